//! Regional overflow (issue 16, first part): switching a Genesys Architect emergency
//! group on or off without losing its IVR links (`emergency`). The command, the
//! automatic mode, the backup region's readiness and the drill are not built yet.

pub mod emergency;

pub use emergency::{set_enabled, Group, SwitchError, Switched};
