//! The scan report: JSON schema, streaming writer, human summary.
