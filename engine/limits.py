"""Sizes the tool refuses to go beyond: digits in a number, characters of a rule file, bytes of a data file.

A module of constants with no imports, so that the parser, the file readers and the data loaders
share one figure each (docs/errors.md, file-too-large and too-many-digits).
"""

MAX_DIGITS = 30  # digits in one number, in rules and in data: yen amounts have at most 16, coefficients 13 decimals

# Sizes of the files read, checked before a file is read whole (docs/errors.md, file-too-large). A rule file is a
# few kilobytes; municipal data for every municipality of Japan over fifty years is about 10 MB; a scenario file
# of the largest sweep (100,000 scenarios) about 5 MB.
MAX_SOURCE_CHARS = 2_000_000  # characters of one rule file
MAX_RULE_BYTES = 4 * MAX_SOURCE_CHARS + 3  # a longer file has more characters than that, whatever they are (UTF-8, BOM)
MAX_DATA_BYTES = 200_000_000
MAX_SCENARIO_BYTES = 10_000_000
