//! The migration source: one directory of versioned SQL files shared by every tenant.
//!
//! Everything here is pure file handling. A directory is loaded completely and every problem is
//! collected before the caller sees a single migration, so a malformed file is reported before any
//! tenant is touched. Checksums are computed once, at load time, over the normalised up section.

mod checksum;
mod error;
mod load;
mod new;
mod parse;

pub use checksum::checksum;
pub use error::{LoadError, NewError, Problem};
pub use load::{Migration, MigrationSet, Section, load_dir};
pub use new::{create_migration, validate_name};
