"""Runs the fake Twilio from the command line: ``python -m surveys.fake_twilio --help``."""

from surveys.fake_twilio.server import main

if __name__ == "__main__":
    main()
