//! The guardian's system calls on Linux (filled in by the guardian's move).
