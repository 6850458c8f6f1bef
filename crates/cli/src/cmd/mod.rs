//! One module per subcommand: each parses its flags, reads files, calls a library, prints.

pub mod doctor;
