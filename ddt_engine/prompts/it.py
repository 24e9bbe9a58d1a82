"""Default prompts in Italian (see ``ddt_engine.prompts`` for the format)."""

from __future__ import annotations

Text = str | tuple[str, str]  # same on every channel, or (voice, chat)

OR = "o"

# before a validation prompt said again right after itself: "Come dicevo, il sabato …"
AGAIN = "Come dicevo,"

BREAK = '<break time="300ms"/>'

LABELS: dict[str, str] = {
    "date": "la data",
    "day": "il giorno",
    "month": "il mese",
    "year": "l'anno",
    "time": "l'orario",
    "datetime": "il giorno e l'ora",
    "integer": "il numero",
    "number": "il valore",
    "money": "l'importo",
    "phone": "il suo numero di telefono",
    "email": "il suo indirizzo e-mail",
    "iban": "l'IBAN",
    "codice_fiscale": "il suo codice fiscale",
    "partita_iva": "la partita IVA",
    "cap": "il CAP",
    "yes_no": "la risposta",
    "choice": "la sua scelta",
    "text": "la sua richiesta",
    "spelled": "il codice",
}

_ASK = "Mi dice $label?"
_DIGITS_READBACK: Text = ("{{ value | digits }}", "{{ value }}")
# a phone in its national groups ("333 123 4567"), spoken a digit at a time group by group
_PHONE_READBACK: Text = ("{{ value | phone | spell }}", "{{ value | phone }}")
# a long code spoken a character at a time with a short pause every few characters, as
# it is printed: IBAN by four, codice fiscale by three, partita IVA by four
_IBAN_READBACK: Text = ("{{ value | spell(4) }}", "{{ value }}")
_CF_READBACK: Text = ("{{ value | spell(3) }}", "{{ value }}")
_PIVA_READBACK: Text = ("{{ value | spell(4) }}", "{{ value }}")

TYPE_TEXTS: dict[str, dict[str, Text]] = {
    "date": {
        "ask": _ASK,
        "example": (
            "Per esempio: tre marzo millenovecentoottanta.",
            "Per esempio: 3 marzo 1980, oppure 03/03/1980.",
        ),
        # with its article: "il 1º marzo" (read "primo"), "l'8 marzo", "l'11 marzo"
        "readback": '{{ value | date("long") | article("il") }}',
        "invalid": "Questa data non esiste.",
        "help": (
            "Mi dica giorno, mese e anno. $example Può anche digitarla sulla tastiera: due "
            "cifre per il giorno, due per il mese e quattro per l'anno.",
            "Scriva giorno, mese e anno. $example",
        ),
    },
    "day": {
        "ask": "Mi dice il giorno?",
        "example": ("Per esempio: il quindici.", "Per esempio: 15."),
        "readback": "{{ value }}",
        "invalid": (
            "Il giorno deve essere un numero da uno a trentuno.",
            "Il giorno deve essere un numero da 1 a 31.",
        ),
        "help": (
            "Mi dica solo il giorno del mese. $example",
            "Scriva solo il giorno del mese. $example",
        ),
    },
    "month": {
        "ask": "Di che mese?",
        "example": ("Per esempio: marzo.", "Per esempio: marzo, oppure 3."),
        "readback": "{{ value }}",
        "invalid": "Il mese deve essere tra gennaio e dicembre.",
        "help": (
            "Mi dica il nome del mese. $example",
            "Scriva il mese. $example",
        ),
    },
    "year": {
        "ask": "Di che anno?",
        "example": ("Per esempio: millenovecentoottanta.", "Per esempio: 1980."),
        "readback": "{{ value }}",
        "invalid": (
            "Non mi risulta un anno valido.",
            "Non mi risulta un anno valido: scriva l'anno con quattro cifre.",
        ),
        "help": (
            "Mi dica l'anno per intero. $example",
            "Scriva l'anno con quattro cifre. $example",
        ),
    },
    "time": {
        "ask": _ASK,
        "example": ("Per esempio: alle dieci e trenta.", "Per esempio: 10:30."),
        "readback": "ore {{ value | time }}",
        "invalid": "Questo orario non esiste.",
        "help": (
            "Mi dica l'ora. $example",
            "Scriva l'ora. $example",
        ),
    },
    "datetime": {
        "ask": _ASK,
        "example": (
            "Per esempio: domani alle dieci.",
            "Per esempio: 3 marzo alle 10:30.",
        ),
        "readback": '{{ value | date("long") | article("il") }}, ore {{ value | time }}',
        "invalid": "Questa data o quest'ora non esistono.",
        "help": (
            "Mi dica il giorno e l'ora. $example",
            "Scriva il giorno e l'ora. $example",
        ),
    },
    "integer": {
        "ask": _ASK,
        "example": ("Per esempio: trentadue.", "Per esempio: 32."),
        "readback": "{{ value }}",
        "invalid": "Questo numero non è valido.",
        "help": (
            "Mi dica il numero. $example Può anche digitarlo sulla tastiera.",
            "Scriva il numero in cifre. $example",
        ),
    },
    "number": {
        "ask": _ASK,
        "example": ("Per esempio: dodici virgola cinque.", "Per esempio: 12,5."),
        "readback": "{{ value }}",
        "invalid": "Questo valore non è valido.",
        "help": (
            "Mi dica il valore. $example",
            "Scriva il valore in cifre. $example",
        ),
    },
    "money": {
        "ask": _ASK,
        "example": ("Per esempio: venti euro e cinquanta.", "Per esempio: 20,50 euro."),
        "readback": "{{ value | money }}",
        "invalid": "Questo importo non è valido.",
        "help": (
            "Mi dica l'importo in euro. $example",
            "Scriva l'importo in euro. $example",
        ),
    },
    "phone": {
        "ask": _ASK,
        "example": (
            "Me lo dica una cifra alla volta, per esempio: tre tre tre, uno due tre, "
            "quattro cinque sei sette.",
            "Per esempio: 333 123 4567.",
        ),
        "readback": _PHONE_READBACK,
        "invalid": "Questo numero di telefono non sembra valido.",
        "help": (
            "$example Oppure lo digiti sulla tastiera e prema cancelletto alla fine.",
            "Scriva il numero di telefono, con o senza prefisso. $example",
        ),
    },
    "email": {
        "ask": _ASK,
        "example": (
            "Per esempio: mario punto rossi chiocciola gmail punto com.",
            "Per esempio: mario.rossi@gmail.com.",
        ),
        "readback": "{{ value }}",
        "invalid": "Questo indirizzo e-mail non sembra valido.",
        "help": (
            "Mi dica l'indirizzo, lettera per lettera se serve, dicendo «chiocciola» per la "
            "a commerciale e «punto» per il punto. $example",
            "Scriva l'indirizzo e-mail completo. $example",
        ),
    },
    "iban": {
        "ask": _ASK,
        "example": (
            "Me lo dica a piccoli gruppi, lettere e cifre, partendo da I T.",
            "Per esempio: IT60 X054 2811 1010 0000 0123 456.",
        ),
        "readback": _IBAN_READBACK,
        "invalid": "Questo IBAN non è valido: il codice di controllo non corrisponde.",
        "help": (
            "L'IBAN italiano ha ventisette caratteri. $example Per le lettere può usare le "
            "città, per esempio: I come Imola, T come Torino.",
            "Scriva l'IBAN completo, con o senza spazi: ha 27 caratteri e comincia con IT. "
            "$example",
        ),
    },
    "codice_fiscale": {
        "ask": _ASK,
        "example": (
            "Per le lettere può usare le città, per esempio: R come Roma, S come Savona.",
            "Per esempio: RSSMRA80C03H501F.",
        ),
        "readback": _CF_READBACK,
        "invalid": "Questo codice fiscale non è valido.",
        "help": (
            "Il codice fiscale ha sedici caratteri: me lo dica un carattere alla volta. $example",
            "Scriva i 16 caratteri del codice fiscale. $example",
        ),
    },
    "partita_iva": {
        "ask": _ASK,
        "example": (
            "Sono undici cifre: me le dica una alla volta.",
            "Per esempio: 01234560017.",
        ),
        "readback": _PIVA_READBACK,
        "invalid": "Questa partita IVA non è valida.",
        "help": (
            "$example Può anche digitarle sulla tastiera.",
            "Scriva le 11 cifre della partita IVA. $example",
        ),
    },
    "cap": {
        "ask": _ASK,
        "example": ("Per esempio: zero zero uno otto quattro.", "Per esempio: 00184."),
        "readback": _DIGITS_READBACK,
        "invalid": "Questo CAP non è valido: sono cinque cifre.",
        "help": (
            "Il CAP ha cinque cifre: me le dica una alla volta, oppure le digiti sulla "
            "tastiera. $example",
            "Scriva le 5 cifre del CAP. $example",
        ),
    },
    "yes_no": {
        "ask": "Risponda sì o no, per favore.",
        "example": ("Basta dire sì oppure no.", "Basta scrivere sì oppure no."),
        "readback": "{{ value }}",
        "invalid": "Non ho capito la risposta.",
        "help": (
            "Mi basta un sì o un no. Può anche premere uno per sì e due per no.",
            "Mi basta un sì o un no.",
        ),
    },
    "choice": {
        "ask": "Mi dice $label? Può scegliere tra: $options.",
        "example": "Le possibilità sono: $options.",
        "readback": "{{ value }}",
        "invalid": "Questa scelta non è tra quelle possibili.",
        "help": (
            "Mi dica una di queste possibilità: $options. Può anche premere il numero "
            "corrispondente sulla tastiera.",
            "Scriva una di queste possibilità: $options.",
        ),
    },
    "text": {
        "ask": "Mi dica $label.",
        "example": "Basta una frase.",
        "readback": "{{ value }}",
        "invalid": "Questa risposta non va bene.",
        "help": "Mi risponda con parole sue. $example",
    },
    "spelled": {
        "ask": _ASK,
        "example": (
            "Per le lettere può usare le città, per esempio: A come Ancona, B come Bologna.",
            "Per esempio: AB12C.",
        ),
        "readback": _DIGITS_READBACK,
        "invalid": "Questo codice non è valido.",
        "help": (
            # a code of digits too (a card's last four): no "lettere e cifre" here
            "Me lo dica un carattere alla volta. $example",
            "Scriva il codice, senza spazi. $example",
        ),
    },
}

GENERIC: dict[str, list[Text]] = {
    "start": ["$ask"],
    "noMatch": [
        "Scusi, non ho capito. $ask",
        (f"Non sono sicuro di aver capito. {BREAK} $ask $example", "Non ho capito. $ask $example"),
        (
            f"Mi dispiace, ancora non ho capito. {BREAK} $ask $example",
            "Mi dispiace, ancora non ho capito. $ask $example",
        ),
    ],
    "noInput": [
        ("Non ho sentito la risposta. $ask", "Non ho ricevuto risposta. $ask"),
        (
            f"Mi scusi, non la sento. {BREAK} $ask $example",
            "È ancora lì? $ask $example",
        ),
        (
            f"Non sento ancora nulla. {BREAK} $ask $example",
            "Non ho ancora ricevuto risposta. $ask $example",
        ),
    ],
    "invalid": [
        "$invalid $ask",
        "$invalid $ask $example",
        (
            f"$invalid {BREAK} Proviamo ancora una volta. $ask $example",
            "$invalid Proviamo ancora una volta. $ask $example",
        ),
    ],
    "confirmation": [
        (
            f"Ho capito: $readback. {BREAK} È corretto?",
            "Ho capito: $readback. È corretto?",
        ),
        # played after silence as well as after an unclear answer: no "non ho capito"
        (
            f"Mi scusi, {BREAK} $readback: è corretto? Risponda sì o no.",
            "Mi scusi, $readback: è corretto? Risponda sì o no.",
        ),
        (
            f"Mi serve solo un sì o un no: {BREAK} $readback è corretto?",
            "Mi serve solo un sì o un no: $readback è corretto?",
        ),
    ],
    "notConfirmed": [
        "D'accordo, mi scusi. $ask",
        "Va bene, riproviamo. $ask $example",
    ],
    "success": ["Perfetto, grazie."],
    "failed": ["Mi dispiace, non sono riuscito a capire $label."],
    "help": ["$help"],
}

OVERRIDES: dict[str, dict[str, list[Text]]] = {
    "yes_no": {
        "noMatch": [
            "Scusi, non ho capito. Risponda sì o no, per favore.",
            (
                "Mi serve solo un sì o un no. Può anche premere uno per sì e due per no.",
                "Mi serve solo un sì o un no.",
            ),
            "Mi dispiace, ancora non ho capito. Risponda sì oppure no.",
        ],
        "failed": ["Mi dispiace, non ho capito la risposta."],
    },
    "text": {
        "noMatch": [
            "Scusi, non ho capito. $ask",
            "Non ho capito bene. Può ripetere con parole sue, in una frase?",
            "Mi dispiace, ancora non ho capito. Può ripetere più lentamente?",
        ],
    },
}

RULES: dict[str, list[Text]] = {
    "day_range": [
        (
            "Il giorno deve essere un numero da uno a trentuno. Mi ridice il giorno?",
            "Il giorno deve essere un numero da 1 a 31. Mi ridice il giorno?",
        ),
        (
            "Mi dica solo il giorno del mese, un numero da uno a trentuno, per esempio: "
            "il quindici.",
            "Scriva solo il giorno del mese, un numero da 1 a 31, per esempio 15.",
        ),
    ],
    "month_range": [
        "Il mese deve essere tra gennaio e dicembre. Di che mese?",
        "Mi dica il nome del mese, per esempio: marzo.",
    ],
    "year_range": [
        # "1850" has four digits: say which years are possible
        (
            "L'anno deve essere tra il millenovecento e il duemilacento. Mi dice l'anno per "
            "intero, per esempio millenovecentoottanta?",
            "L'anno deve essere tra il 1900 e il 2100. Scriva l'anno per intero, per esempio 1980.",
        ),
        (
            "Mi serve un anno tra il millenovecento e il duemilacento. Di che anno?",
            "Mi serve un anno tra il 1900 e il 2100. Di che anno?",
        ),
    ],
    "money_positive": [
        "L'importo deve essere maggiore di zero. $ask",
        "L'importo deve essere maggiore di zero. $ask $example",
    ],
}
