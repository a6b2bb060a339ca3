//! One module per subcommand.

pub mod apply;
pub mod init;
pub mod new;
pub mod plan;
pub mod runs;
pub mod status;
