//! `ConfigError`: a deployment variable that is missing or invalid. Imports nothing of the
//! domain, so the configuration, the policy and the errors can all name it.

use std::fmt;

/// A variable that is missing or invalid, named so the deploying team knows what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Name of the variable.
    pub var: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.reason)
    }
}
