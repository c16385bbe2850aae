//! Classify every walked and every packaged path: added, modified, deleted, or unchanged.
