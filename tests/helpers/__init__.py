"""Test helpers shared by unit and integration tests (sample data generators, small utilities)."""
