"""Default prompt texts of the built-in types, one data module per language (it, en).

Each language module defines the same names:

- ``LABELS``: type -> default label, spoken inside a sentence ("la data", "your phone number").
- ``TYPE_TEXTS``: type -> the pieces the generic escalation templates are made of:
  ``ask`` (the question), ``example`` (voice, chat), ``readback`` (voice, chat: the
  confirmation value as a template), ``invalid`` (voice, chat), ``help`` (voice, chat;
  it may hold ``$example``: a DDT's own example then replaces the type's in the help too).
- ``GENERIC``: dialogue state -> levels of templates built from those pieces.
- ``OVERRIDES``: type -> state -> levels that replace the generic ones.
- ``RULES``: default validation rule code -> levels.
- ``OR``: the word joining the last two options of a choice ("o", "or").
- ``AGAIN``: the words before a validation prompt said again right after itself ("Come
  dicevo,", "As I said,").

Markers: ``$ask``, ``$example``, ``$readback``, ``$invalid``, ``$help`` are filled when the
catalogue is built; ``$label`` and ``$options`` by the compiler (they depend on the DDT).
A level is a string (same text on every channel) or a ``(voice, chat)`` pair; the voice
variant may hold SSML.
"""
