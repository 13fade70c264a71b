//! One module per part of the guide's failure taxonomy.

pub mod analytics;
pub mod campaigns;
pub mod context;
pub mod crm;
pub mod flapping;
pub mod maintenance;
pub mod overflow;
pub mod region;
pub mod tokens;
pub mod writeback;
