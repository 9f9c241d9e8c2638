//! The guardian's system calls, POSIX only (filled in by the guardian's move).
