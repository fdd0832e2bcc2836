"""Tests of the HL7 v2 adapter (a package so module names cannot clash with other test folders)."""
