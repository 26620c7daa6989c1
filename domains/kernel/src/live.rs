//! The one live path: a bus topic turned into a principal's stream of typed
//! changes, filtered by the audience each event carries.
//!
//! Visibility is decided from the envelope and an [`OrganizationSet`] loaded
//! once at subscribe time, never by a query per event and subscriber. Lag and
//! bus reconnects become [`Live::Refetch`]; the stream ends when the access
//! token expires. Session revocation closes the whole socket in the transport.

use std::collections::BTreeSet;

use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use crate::events::{Audience, Change, Delivery, EventBus};
use crate::principal::Principal;

/// The client organizations whose rows a principal may read, as a value that
/// events are checked against in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationSet {
    /// Every organization (staff).
    Every,
    /// Only these (a client's own, a partner's referred clients; none for freelancers).
    Only(BTreeSet<Uuid>),
}

impl OrganizationSet {
    /// No organization at all.
    pub fn none() -> Self {
        Self::Only(BTreeSet::new())
    }

    /// Whether rows of `organization` are visible.
    pub fn contains(&self, organization: Uuid) -> bool {
        match self {
            Self::Every => true,
            Self::Only(set) => set.contains(&organization),
        }
    }
}

/// What one subscriber may receive.
#[derive(Debug, Clone)]
pub struct LiveAccess {
    /// Organizations whose events pass.
    pub organizations: OrganizationSet,
    /// Whether staff-only events pass.
    pub staff: bool,
}

impl LiveAccess {
    /// Whether an event with `audience` may reach this subscriber.
    pub fn admits(&self, audience: &Audience) -> bool {
        (!audience.staff_only || self.staff)
            && audience
                .organization_id
                .is_none_or(|organization| self.organizations.contains(organization))
    }
}

/// One item of a live stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Live<C> {
    /// A change the subscriber may see.
    Change {
        /// Id of the event.
        event_id: Uuid,
        /// Who made the change.
        actor_id: Option<Uuid>,
        /// The change.
        change: C,
    },
    /// Changes may have been missed: reload instead of trusting local state.
    Refetch,
}

/// The changes of `topic` that `access` admits, as `C`, until `principal`'s
/// access token expires.
pub fn live_changes<C: Change>(
    bus: &dyn EventBus,
    topic: &str,
    principal: &Principal,
    access: LiveAccess,
) -> impl Stream<Item = Live<C>> + Send + 'static + use<C> {
    let expires_in = (principal.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    bus.subscribe(topic)
        .filter_map(move |delivery| {
            std::future::ready(match delivery {
                Delivery::Gap => Some(Live::Refetch),
                Delivery::Event(event) if access.admits(&event.audience) => {
                    // A payload this build cannot read (another version during a
                    // rolling deploy) still tells the client that something changed.
                    Some(
                        event
                            .decode::<C>()
                            .map_or(Live::Refetch, |change| Live::Change {
                                event_id: event.id,
                                actor_id: event.actor_id,
                                change,
                            }),
                    )
                }
                Delivery::Event(_) => None,
            })
        })
        .take_until(tokio::time::sleep(expires_in))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, InProcessBus};
    use crate::principal::Role;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Note {
        Added { organization: Uuid, internal: bool },
    }

    impl Change for Note {
        fn audience(&self) -> Audience {
            let Note::Added {
                organization,
                internal,
            } = *self;
            Audience {
                organization_id: Some(organization),
                staff_only: internal,
            }
        }
    }

    fn principal() -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            role: Role::Client,
            org_id: Uuid::from_u128(2),
            permissions: BTreeSet::new(),
            session_id: Uuid::from_u128(3),
            expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
        }
    }

    #[test]
    fn the_audience_decides_without_a_query() {
        let acme = Uuid::from_u128(10);
        let globex = Uuid::from_u128(11);
        let client = LiveAccess {
            organizations: OrganizationSet::Only([acme].into()),
            staff: false,
        };
        let public_acme = Audience {
            organization_id: Some(acme),
            staff_only: false,
        };
        assert!(client.admits(&public_acme));
        assert!(!client.admits(&Audience {
            staff_only: true,
            ..public_acme
        }));
        assert!(!client.admits(&Audience {
            organization_id: Some(globex),
            staff_only: false,
        }));
        assert!(client.admits(&Audience::default()));
        let staff = LiveAccess {
            organizations: OrganizationSet::Every,
            staff: true,
        };
        assert!(staff.admits(&Audience {
            organization_id: Some(globex),
            staff_only: true,
        }));
        let nobody = LiveAccess {
            organizations: OrganizationSet::none(),
            staff: false,
        };
        assert!(!nobody.admits(&public_acme));
    }

    #[tokio::test]
    async fn a_stream_carries_admitted_changes_and_turns_gaps_into_refetch() {
        let bus = InProcessBus::new(4);
        let acme = Uuid::from_u128(10);
        let access = LiveAccess {
            organizations: OrganizationSet::Only([acme].into()),
            staff: false,
        };
        let mut stream = Box::pin(live_changes::<Note>(&bus, "t", &principal(), access));
        let internal = Note::Added {
            organization: acme,
            internal: true,
        };
        let public = Note::Added {
            organization: acme,
            internal: false,
        };
        bus.publish(Event::of("t", None, &internal));
        bus.publish(Event::of("t", Some(Uuid::from_u128(7)), &public));
        match stream.next().await {
            Some(Live::Change {
                change, actor_id, ..
            }) => {
                assert_eq!(change, public);
                assert_eq!(actor_id, Some(Uuid::from_u128(7)));
            }
            other => panic!("expected the public change, got {other:?}"),
        }
        for _ in 0..10 {
            bus.publish(Event::of("t", None, &public));
        }
        assert_eq!(stream.next().await, Some(Live::Refetch));
    }

    #[tokio::test]
    async fn the_stream_ends_when_the_token_expires() {
        let bus = InProcessBus::new(4);
        let mut expired = principal();
        expired.expires_at = chrono::Utc::now();
        let access = LiveAccess {
            organizations: OrganizationSet::Every,
            staff: true,
        };
        let mut stream = Box::pin(live_changes::<Note>(&bus, "t", &expired, access));
        assert_eq!(stream.next().await, None);
    }
}
