"""The Resident Health Card as a chip: layout table, codecs, APDUs, SAM and card operations, the emulator.

Pure Python (no Django): the terminal agent on the counter PC and the tests use it directly.
"""
