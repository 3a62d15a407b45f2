//! Webhooks: the events an organization can subscribe to, their signed deliveries (Standard
//! Webhooks), the retry plan, and the expiry notices a key has ahead of it.

mod command;
mod endpoint;
mod event;
mod notice;
mod retry;
mod sighting;
mod signature;

pub use command::{WebhookCommand, WebhookRoute};
pub use endpoint::{CreateWebhook, MAX_ENDPOINTS, UpdateWebhook, WebhookEndpoint, random_id};
pub use event::{EventType, Payload, UnknownEventType};
pub use notice::{NOTICE_DAYS, Notice, notices_ahead};
pub use retry::{Attempt, DeliveryState, RETRY_DELAYS_MS};
pub use sighting::{SUCCESS_EVERY_MS, Sightings};
pub use signature::{SecretError, WebhookSecret, sign};
