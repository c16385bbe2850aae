//! One scan, end to end: walk → package databases → classify → report.
