"""Data quality checks that importers and adapters apply to what they are about to store.

- :mod:`.plausibility`: vital signs outside what a living patient can have are kept visible but
  withheld from use (``dataAbsentReason`` ``error`` and a note with the value as received).
"""
