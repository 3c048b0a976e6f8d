//! `gatewayd`'s configuration: one TOML file.
//!
//! Every error names the file, the line and the field (`gatewayd check-config FILE`), both
//! for syntax and type errors found while parsing and for semantic errors (a trunk group that
//! names a span nobody defined, overlapping channel ranges, a route to an unknown trunk).
//!
//! ```
//! let text = r#"
//! [[span]]
//! id = 1
//! type = "e1"
//! signalling = "pri_cpe"
//!
//! [[trunk_group]]
//! name = "pstn"
//! members = [{ span = 1, channels = "1-15,17-31" }]
//! hunting = "round_robin"
//!
//! [[route]]
//! pattern = "_0X."
//! to = ["pstn"]
//! "#;
//! let config = gateway::config::Config::from_str(text, "example.toml").unwrap();
//! assert_eq!(config.trunk_groups[0].members[0].channels.len(), 30);
//! ```

mod error;
mod h323;
mod model;
mod sim;
mod validate;

pub use error::ConfigError;
pub use h323::{Gatekeeper, GatekeeperLocation, H323Peer, MediaPath, H323};
pub use model::*;
pub use sim::{SimBehaviour, SimPattern, SimSwitch};

use std::path::Path;

impl Config {
    /// Read and check a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            file: file.clone(),
            source: e,
        })?;
        Config::from_str(&text, &file)
    }

    /// Parse and check configuration text; `file` is the name used in error messages.
    #[allow(clippy::should_implement_trait)] // needs the file name for its errors
    pub fn from_str(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: model::RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(file, text, &e))?;
        validate::validate(raw, text, file)
    }
}
