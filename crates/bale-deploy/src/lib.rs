//! The package store: atomic installs, verification of installed packages.
