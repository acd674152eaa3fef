"""The words of the debtor's survey pages, in the three languages a debtor may read.

Kept as data rather than gettext catalogues because these pages speak the *invitation's*
language (the debtor's, from the collection system, or the one they chose on the page), not the
browser's; because the question texts they sit beside are already per-language data in the
survey version; and because one dict keeps the three versions of a sentence side by side, so a
missing translation fails a test instead of falling back to English in front of a debtor.

The tone follows the agency's method: thanks first, no pressure, nothing about money or the
company the call was made for (a third party may be holding the phone).
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("it", "es", "en")
LANGUAGE_NAMES: Final = {"it": "Italiano", "es": "Español", "en": "English"}

TEXT: Final[dict[str, dict[str, str]]] = {
    "it": {
        "title": "La sua opinione",
        "intro": "Grazie per il tempo che ci ha dedicato. Le chiediamo solo un minuto.",
        "progress": "Domanda {n} di {total}",
        "next": "Avanti",
        "finish": "Termina qui",
        "send": "Invia",
        "back": "Indietro",
        "saved_note": "Il suo voto è già registrato. Le altre domande sono facoltative: "
        "può fermarsi quando vuole.",
        "optional": "facoltativa",
        "error_prefix": "Attenzione:",
        "error_required_score": "Scelga un numero da 0 a 10.",
        "error_required": "Questa domanda richiede una risposta.",
        "error_invalid_choice": "Scelga una delle risposte proposte.",
        "error_too_long": "Può scrivere al massimo {max} caratteri.",
        "error_generic": "Non siamo riusciti a salvare la risposta. Riprovi.",
        "language": "Lingua",
        "thanks_title": "Grazie!",
        "thanks_body": "Abbiamo ricevuto le sue risposte. Ci aiutano a migliorare il nostro "
        "modo di lavorare.",
        "answered_title": "Ha già risposto",
        "answered_body": "Le sue risposte sono già state registrate. Grazie ancora per il suo "
        "tempo.",
        "expired_title": "Il link è scaduto",
        "expired_body": "Questo sondaggio non è più disponibile. Grazie comunque per il suo tempo.",
        "expired_partial_body": "Il sondaggio ora è chiuso. Il voto che ci ha dato è stato "
        "registrato: grazie!",
        "closed_title": "Sondaggio non disponibile",
        "closed_body": "Questo sondaggio non è disponibile. Non deve fare nulla.",
        "notfound_title": "Link non trovato",
        "notfound_body": "Non troviamo questo sondaggio. Controlli di aver aperto il link "
        "completo ricevuto per SMS. Non deve fare nulla.",
        "privacy_line": "Rispondere è facoltativo. Risposte e commenti vanno all'azienda per "
        "conto della quale è stato fatto il contatto, per migliorare il servizio; dopo un voto "
        "basso potremmo richiamarla per capire che cosa non è andato.",
        "privacy_title": "Informativa sulla privacy",
        "privacy_controller": "Titolare del trattamento: {controller}.",
        "privacy_rights": "Per vedere, correggere o cancellare i suoi dati, od opporsi al "
        "trattamento: {contact}.",
        "privacy_more": "Conserviamo le sue risposte insieme alla telefonata o alla visita a "
        "cui si riferiscono, per capire che cosa funziona. Le vedono l'agenzia e l'azienda per "
        "conto della quale è stato fatto il contatto, con il nome di chi l'ha fatto. "
        "Al termine del periodo di "
        "conservazione cancelliamo il numero di telefono e i commenti scritti e teniamo solo i "
        "voti, in forma anonima. Questa pagina non usa cookie di profilazione né servizi "
        "esterni.",
        "stop_link": "Non voglio più ricevere questi messaggi",
        "stop_title": "Non vuole più ricevere questi messaggi?",
        "stop_body": "Se conferma, non le chiederemo più la sua opinione a questo numero.",
        "stop_confirm": "Sì, non inviatemi più messaggi",
        "stop_cancel": "No, torna al sondaggio",
        "stopped_title": "Fatto",
        "stopped_body": "Non riceverà più richieste di opinione a questo numero.",
    },
    "es": {
        "title": "Su opinión",
        "intro": "Gracias por el tiempo que nos ha dedicado. Solo le pedimos un minuto.",
        "progress": "Pregunta {n} de {total}",
        "next": "Siguiente",
        "finish": "Terminar aquí",
        "send": "Enviar",
        "back": "Atrás",
        "saved_note": "Su puntuación ya está registrada. Las demás preguntas son opcionales: "
        "puede parar cuando quiera.",
        "optional": "opcional",
        "error_prefix": "Atención:",
        "error_required_score": "Elija un número del 0 al 10.",
        "error_required": "Esta pregunta necesita una respuesta.",
        "error_invalid_choice": "Elija una de las respuestas propuestas.",
        "error_too_long": "Puede escribir como máximo {max} caracteres.",
        "error_generic": "No hemos podido guardar la respuesta. Inténtelo de nuevo.",
        "language": "Idioma",
        "thanks_title": "¡Gracias!",
        "thanks_body": "Hemos recibido sus respuestas. Nos ayudan a mejorar nuestra forma de "
        "trabajar.",
        "answered_title": "Ya ha respondido",
        "answered_body": "Sus respuestas ya están registradas. Gracias de nuevo por su tiempo.",
        "expired_title": "El enlace ha caducado",
        "expired_body": "Esta encuesta ya no está disponible. Gracias de todos modos por su "
        "tiempo.",
        "expired_partial_body": "La encuesta ya está cerrada. La puntuación que nos dio ha "
        "quedado registrada: ¡gracias!",
        "closed_title": "Encuesta no disponible",
        "closed_body": "Esta encuesta no está disponible. No tiene que hacer nada.",
        "notfound_title": "Enlace no encontrado",
        "notfound_body": "No encontramos esta encuesta. Compruebe que ha abierto el enlace "
        "completo que recibió por SMS. No tiene que hacer nada.",
        "privacy_line": "Responder es voluntario. Las respuestas y los comentarios llegan a la "
        "empresa en cuyo nombre se hizo el contacto, para mejorar el servicio; tras una "
        "puntuación baja podríamos llamarle para entender qué falló.",
        "privacy_title": "Aviso de privacidad",
        "privacy_controller": "Responsable del tratamiento: {controller}.",
        "privacy_rights": "Para ver, corregir o suprimir sus datos, u oponerse al tratamiento: "
        "{contact}.",
        "privacy_more": "Guardamos sus respuestas junto con la llamada o la visita a la que se "
        "refieren, para entender qué funciona. Las ven la agencia y la empresa en cuyo nombre "
        "se hizo el contacto, con el nombre de quien lo hizo. "
        "Al final del plazo de conservación borramos el "
        "número de teléfono y los comentarios escritos y solo conservamos las puntuaciones, de "
        "forma anónima. Esta página no usa cookies de seguimiento ni servicios externos.",
        "stop_link": "No quiero recibir más mensajes",
        "stop_title": "¿No quiere recibir más mensajes?",
        "stop_body": "Si lo confirma, no volveremos a pedirle su opinión en este número.",
        "stop_confirm": "Sí, no quiero más mensajes",
        "stop_cancel": "No, volver a la encuesta",
        "stopped_title": "Hecho",
        "stopped_body": "No recibirá más solicitudes de opinión en este número.",
    },
    "en": {
        "title": "Your opinion",
        "intro": "Thank you for your time. This takes only a minute.",
        "progress": "Question {n} of {total}",
        "next": "Next",
        "finish": "Finish here",
        "send": "Send",
        "back": "Back",
        "saved_note": "Your score is already saved. The other questions are optional: you can "
        "stop whenever you like.",
        "optional": "optional",
        "error_prefix": "Please check:",
        "error_required_score": "Choose a number from 0 to 10.",
        "error_required": "This question needs an answer.",
        "error_invalid_choice": "Choose one of the answers offered.",
        "error_too_long": "Please write at most {max} characters.",
        "error_generic": "We could not save your answer. Please try again.",
        "language": "Language",
        "thanks_title": "Thank you!",
        "thanks_body": "We have received your answers. They help us improve the way we work.",
        "answered_title": "You have already answered",
        "answered_body": "Your answers are already recorded. Thank you again for your time.",
        "expired_title": "This link has expired",
        "expired_body": "This survey is no longer available. Thank you for your time all the same.",
        "expired_partial_body": "The survey is now closed. The score you gave us has been "
        "recorded: thank you!",
        "closed_title": "Survey not available",
        "closed_body": "This survey is not available. There is nothing you need to do.",
        "notfound_title": "Link not found",
        "notfound_body": "We cannot find this survey. Please check that you opened the whole "
        "link you received by text message. There is nothing you need to do.",
        "privacy_line": "Answering is optional. Your answers and comments go to the company on "
        "whose behalf you were contacted, to improve the service; after a low score we may call "
        "you to understand what went wrong.",
        "privacy_title": "Privacy notice",
        "privacy_controller": "Data controller: {controller}.",
        "privacy_rights": "To see, correct or delete your data, or to object: {contact}.",
        "privacy_more": "We keep your answers together with the call or visit they are about, "
        "to understand what works. The agency and the company on whose behalf you were "
        "contacted see them, with the name of the person who contacted you. "
        "At the end of the retention period we delete the phone "
        "number and any written comments and keep only the scores, anonymously. This page uses "
        "no tracking cookies and no outside services.",
        "stop_link": "Stop these messages",
        "stop_title": "Stop these messages?",
        "stop_body": "If you confirm, we will not ask for your opinion at this number again.",
        "stop_confirm": "Yes, stop the messages",
        "stop_cancel": "No, back to the survey",
        "stopped_title": "Done",
        "stopped_body": "You will not receive any more requests for your opinion at this number.",
    },
}


def page_language(*candidates: str | None) -> str:
    """The first candidate that is one of the page's languages, else Italian (the agency's
    home market)."""
    for candidate in candidates:
        code = (candidate or "").lower()[:2]
        if code in LANGUAGES:
            return code
    return "it"


def page_text(language: str) -> dict[str, str]:
    return TEXT[page_language(language)]
