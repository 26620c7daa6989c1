//! Second factors.

pub mod flow;
pub mod secrets;
pub mod sms;
pub mod totp;
