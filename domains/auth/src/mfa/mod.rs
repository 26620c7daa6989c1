//! Second factors.

pub mod flow;
pub mod sms;
pub mod totp;
