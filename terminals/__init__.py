"""The card as a chip, APDUs, SAM operations, the emulator and the counter terminal page (the Terminals issue fills it)."""
