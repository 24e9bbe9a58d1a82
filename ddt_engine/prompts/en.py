"""Default prompts in English (see ``ddt_engine.prompts`` for the format)."""

from __future__ import annotations

Text = str | tuple[str, str]  # same on every channel, or (voice, chat)

OR = "or"

# before a validation prompt said again right after itself: "As I said, we're closed …"
AGAIN = "As I said,"

BREAK = '<break time="300ms"/>'

LABELS: dict[str, str] = {
    "date": "the date",
    "day": "the day",
    "month": "the month",
    "year": "the year",
    "time": "the time",
    "datetime": "the day and time",
    "integer": "the number",
    "number": "the value",
    "money": "the amount",
    "phone": "your phone number",
    "email": "your email address",
    "iban": "the IBAN",
    "codice_fiscale": "your tax code",
    "partita_iva": "the VAT number",
    "cap": "the postcode",
    "yes_no": "the answer",
    "choice": "your choice",
    "text": "your request",
    "spelled": "the code",
}

_ASK = "Could you tell me $label?"
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
            "For example: March the third, nineteen eighty.",
            "For example: 3 March 1980, or 03/03/1980.",
        ),
        "readback": '{{ value | date("long") }}',
        "invalid": "That date doesn't exist.",
        "help": (
            "Tell me the day, the month and the year. $example You can also type it on the "
            "keypad: two digits for the day, two for the month and four for the year.",
            "Type the day, the month and the year. $example",
        ),
    },
    "day": {
        "ask": "Which day of the month?",
        "example": ("For example: the fifteenth.", "For example: 15."),
        "readback": "{{ value }}",
        "invalid": (
            "The day must be a number from one to thirty-one.",
            "The day must be a number from 1 to 31.",
        ),
        "help": (
            "Just tell me the day of the month. $example",
            "Just type the day of the month. $example",
        ),
    },
    "month": {
        "ask": "Which month?",
        "example": ("For example: March.", "For example: March, or 3."),
        "readback": "{{ value }}",
        "invalid": "The month must be between January and December.",
        "help": (
            "Tell me the name of the month. $example",
            "Type the month. $example",
        ),
    },
    "year": {
        "ask": "Which year?",
        "example": ("For example: nineteen eighty.", "For example: 1980."),
        "readback": "{{ value }}",
        "invalid": (
            "That doesn't sound like a valid year.",
            "That isn't a valid year: please type it with four digits.",
        ),
        "help": (
            "Tell me the full year. $example",
            "Type the year with four digits. $example",
        ),
    },
    "time": {
        "ask": _ASK,
        "example": ("For example: half past ten in the morning.", "For example: 10:30."),
        "readback": "{{ value | time }}",
        "invalid": "That time doesn't exist.",
        "help": (
            "Tell me the time. $example",
            "Type the time. $example",
        ),
    },
    "datetime": {
        "ask": _ASK,
        "example": ("For example: tomorrow at ten.", "For example: 3 March at 10:30."),
        "readback": '{{ value | date("long") }} at {{ value | time }}',
        "invalid": "That date or time doesn't exist.",
        "help": (
            "Tell me the day and the time. $example",
            "Type the day and the time. $example",
        ),
    },
    "integer": {
        "ask": _ASK,
        "example": ("For example: thirty-two.", "For example: 32."),
        "readback": "{{ value }}",
        "invalid": "That number isn't valid.",
        "help": (
            "Say the number. $example You can also type it on the keypad.",
            "Type the number in digits. $example",
        ),
    },
    "number": {
        "ask": _ASK,
        "example": ("For example: twelve point five.", "For example: 12.5."),
        "readback": "{{ value }}",
        "invalid": "That value isn't valid.",
        "help": (
            "Say the value. $example",
            "Type the value in digits. $example",
        ),
    },
    "money": {
        "ask": _ASK,
        "example": (
            "For example: twenty euros fifty.",
            "For example: 20.50 euros.",
        ),
        "readback": "{{ value | money }}",
        "invalid": "That amount isn't valid.",
        "help": (
            "Tell me the amount in euros. $example",
            "Type the amount in euros. $example",
        ),
    },
    "phone": {
        "ask": _ASK,
        "example": (
            "Say it one digit at a time, for example: three three three, one two three, "
            "four five six seven.",
            "For example: 333 123 4567.",
        ),
        "readback": _PHONE_READBACK,
        "invalid": "That phone number doesn't look valid.",
        "help": (
            "$example Or type it on the keypad and press hash at the end.",
            "Type the phone number, with or without the country code. $example",
        ),
    },
    "email": {
        "ask": _ASK,
        "example": (
            "For example: mario dot rossi at gmail dot com.",
            "For example: mario.rossi@gmail.com.",
        ),
        "readback": "{{ value }}",
        "invalid": "That email address doesn't look valid.",
        "help": (
            "Spell the address if you need to, saying «at» for the at sign and «dot» for "
            "the full stop. $example",
            "Type the full email address. $example",
        ),
    },
    "iban": {
        "ask": _ASK,
        "example": (
            "Say it in small groups of letters and digits, starting with the country code.",
            "For example: IT60 X054 2811 1010 0000 0123 456.",
        ),
        "readback": _IBAN_READBACK,
        "invalid": "That IBAN isn't valid: its check digits don't match.",
        "help": (
            "An Italian IBAN has twenty-seven characters and starts with I T. $example "
            "For letters you can use words, for example: alpha, bravo.",
            "Type the whole IBAN, with or without spaces: an Italian one has 27 characters "
            "and starts with IT. $example",
        ),
    },
    "codice_fiscale": {
        "ask": _ASK,
        "example": (
            "For letters you can use words, for example: romeo, sierra.",
            "For example: RSSMRA80C03H501F.",
        ),
        "readback": _CF_READBACK,
        "invalid": "That tax code isn't valid.",
        "help": (
            "The Italian tax code has sixteen characters: say it one character at a time. $example",
            "Type the 16 characters of the tax code. $example",
        ),
    },
    "partita_iva": {
        "ask": _ASK,
        "example": (
            "It has eleven digits: say them one at a time.",
            "For example: 01234560017.",
        ),
        "readback": _PIVA_READBACK,
        "invalid": "That VAT number isn't valid.",
        "help": (
            "$example You can also type them on the keypad.",
            "Type the 11 digits of the VAT number. $example",
        ),
    },
    "cap": {
        "ask": _ASK,
        "example": ("For example: zero zero one eight four.", "For example: 00184."),
        "readback": _DIGITS_READBACK,
        "invalid": "That postcode isn't valid: it has five digits.",
        "help": (
            "The postcode has five digits: say them one at a time, or type them on the "
            "keypad. $example",
            "Type the 5 digits of the postcode. $example",
        ),
    },
    "yes_no": {
        "ask": "Please answer yes or no.",
        "example": ("Just say yes or no.", "Just type yes or no."),
        "readback": "{{ value }}",
        "invalid": "I didn't get your answer.",
        "help": (
            "I just need a yes or a no. You can also press one for yes and two for no.",
            "I just need a yes or a no.",
        ),
    },
    "choice": {
        "ask": "Could you tell me $label? You can choose $options.",
        "example": "The options are: $options.",
        "readback": "{{ value }}",
        "invalid": "That isn't one of the options.",
        "help": (
            "Say one of these: $options. You can also press the matching number on the keypad.",
            "Type one of these: $options.",
        ),
    },
    "text": {
        "ask": "Please tell me $label.",
        "example": "One sentence is enough.",
        "readback": "{{ value }}",
        "invalid": "That answer won't work.",
        "help": "Answer in your own words. $example",
    },
    "spelled": {
        "ask": _ASK,
        "example": (
            "For letters you can use words, for example: alpha, bravo.",
            "For example: AB12C.",
        ),
        "readback": _DIGITS_READBACK,
        "invalid": "That code isn't valid.",
        "help": (
            # a code of digits too (a card's last four): no "letters and digits" here
            "Say it one character at a time. $example",
            "Type the code without spaces. $example",
        ),
    },
}

GENERIC: dict[str, list[Text]] = {
    "start": ["$ask"],
    "noMatch": [
        "Sorry, I didn't catch that. $ask",
        (f"I'm not sure I understood. {BREAK} $ask $example", "I didn't understand. $ask $example"),
        (
            f"Sorry, I still didn't get that. {BREAK} $ask $example",
            "Sorry, I still didn't get that. $ask $example",
        ),
    ],
    "noInput": [
        ("I didn't hear anything. $ask", "I didn't get an answer. $ask"),
        (f"Sorry, I can't hear you. {BREAK} $ask $example", "Are you still there? $ask $example"),
        (
            f"I still can't hear anything. {BREAK} $ask $example",
            "I still haven't got an answer. $ask $example",
        ),
    ],
    "invalid": [
        "$invalid $ask",
        "$invalid $ask $example",
        (
            f"$invalid {BREAK} Let's try once more. $ask $example",
            "$invalid Let's try once more. $ask $example",
        ),
    ],
    "confirmation": [
        (f"I got $readback. {BREAK} Is that right?", "I got: $readback. Is that right?"),
        (
            f"Sorry, I didn't get your answer. {BREAK} Is $readback right? Please say yes or no.",
            "Sorry, I didn't get your answer. Is $readback right? Please answer yes or no.",
        ),
        (
            f"I just need a yes or a no. {BREAK} Is $readback right?",
            "I just need a yes or a no: is $readback right?",
        ),
    ],
    "notConfirmed": [
        "All right, sorry about that. $ask",
        "OK, let's try again. $ask $example",
    ],
    "success": ["Great, thank you."],
    "failed": ["I'm sorry, I couldn't get $label."],
    "help": ["$help"],
}

OVERRIDES: dict[str, dict[str, list[Text]]] = {
    "yes_no": {
        "noMatch": [
            "Sorry, I didn't catch that. Please answer yes or no.",
            (
                "I just need a yes or a no. You can also press one for yes and two for no.",
                "I just need a yes or a no.",
            ),
            "Sorry, I still didn't get that. Please say yes or no.",
        ],
        "failed": ["I'm sorry, I couldn't get your answer."],
    },
    "text": {
        "noMatch": [
            "Sorry, I didn't catch that. $ask",
            "I didn't quite get that. Could you say it again in one sentence?",
            "Sorry, I still didn't get that. Could you say it again, a bit more slowly?",
        ],
    },
}

RULES: dict[str, list[Text]] = {
    "day_range": [
        (
            "The day must be a number from one to thirty-one. Which day of the month?",
            "The day must be a number from 1 to 31. Which day of the month?",
        ),
        (
            "Just tell me the day of the month, a number from one to thirty-one, for "
            "example: the fifteenth.",
            "Just type the day of the month, a number from 1 to 31, for example 15.",
        ),
    ],
    "month_range": [
        "The month must be between January and December. Which month?",
        "Tell me the name of the month, for example: March.",
    ],
    "year_range": [
        # "1850" has four digits: say which years are possible
        (
            "The year must be between nineteen hundred and twenty-one hundred. Could you say "
            "the full year, for example nineteen eighty?",
            "The year must be between 1900 and 2100. Please type the full year, for example 1980.",
        ),
        (
            "I need a year between nineteen hundred and twenty-one hundred. Which year?",
            "I need a year between 1900 and 2100. Which year?",
        ),
    ],
    "money_positive": [
        "The amount must be more than zero. $ask",
        "The amount must be more than zero. $ask $example",
    ],
}
