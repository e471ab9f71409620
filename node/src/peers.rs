//! The secondaries of our zones as this node sees them: `[[secondary]]` from its configuration
//! plus those declared through the API (replicated, so every node has the same), re-read from
//! the store every second. A secondary declared in both places is the API's.
//!
//! NOTIFY, the transfer ACL and the transfer metrics read the current set without locks; so
//! does NOTIFY in, which checks it against the zones taken from external primaries.

use std::net::IpAddr;
use std::sync::Arc;
#[cfg(feature = "cluster")]
use std::time::Duration;

use arc_swap::ArcSwap;
use nebula_store::records::{Secondary, Upstream};
use nebula_wire::Name;

/// One consistent set of secondaries, with their zone names parsed once.
#[derive(Debug, Default)]
pub struct PeerSet {
    pub list: Vec<Secondary>,
    /// Zones we take from external primaries (NOTIFY from those primaries is accepted).
    pub upstreams: Vec<Upstream>,
    /// Per secondary: the zones it takes as lower-case wire names; None: every zone.
    zone_keys: Vec<Option<Vec<Vec<u8>>>>,
}

impl PeerSet {
    pub fn new(list: Vec<Secondary>, upstreams: Vec<Upstream>) -> PeerSet {
        let zone_keys = list
            .iter()
            .map(|s| {
                (!s.zones.is_empty()).then(|| {
                    s.zones
                        .iter()
                        .filter_map(|z| Name::from_text(z, Some(&Name::root())).ok())
                        .map(|name| name.to_lowercase().as_wire().to_vec())
                        .collect()
                })
            })
            .collect();
        PeerSet {
            list,
            upstreams,
            zone_keys,
        }
    }

    /// The secondaries that take the zone whose lower-case wire name is `zone`.
    pub fn taking<'a>(&'a self, zone: &'a [u8]) -> impl Iterator<Item = &'a Secondary> + 'a {
        self.list
            .iter()
            .zip(&self.zone_keys)
            .filter(move |(_, keys)| {
                keys.as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_slice() == zone))
            })
            .map(|(secondary, _)| secondary)
    }

    /// The declared secondary at `ip` (the name transfer metrics carry): the one whose TSIG
    /// key signed the request, else the first declared there.
    pub fn at(&self, ip: IpAddr, key: Option<&Name>) -> Option<&Secondary> {
        let ip = ip.to_canonical();
        let mut here = self
            .list
            .iter()
            .filter(|s| s.address.0.ip().to_canonical() == ip);
        let first = here.clone().next();
        key.and_then(|key| {
            here.find(|s| {
                s.key.as_ref().is_some_and(|k| {
                    Name::from_text(k, Some(&Name::root())).is_ok_and(|k| k.to_lowercase() == *key)
                })
            })
        })
        .or(first)
    }
}

/// The configured secondaries and the current set.
#[derive(Debug)]
pub struct Peers {
    configured: Vec<Secondary>,
    current: ArcSwap<PeerSet>,
}

impl Peers {
    pub fn new(configured: Vec<Secondary>) -> Peers {
        let current = ArcSwap::from_pointee(PeerSet::new(configured.clone(), Vec::new()));
        Peers {
            configured,
            current,
        }
    }

    pub fn load(&self) -> Arc<PeerSet> {
        self.current.load_full()
    }

    /// Installs the configured secondaries plus `declared` (the API's win on a name clash), and
    /// the zones taken from external primaries.
    pub fn update(&self, declared: Vec<Secondary>, upstreams: Vec<Upstream>) {
        let mut list = declared;
        for secondary in &self.configured {
            if !list.iter().any(|s| s.name == secondary.name) {
                list.push(secondary.clone());
            }
        }
        let current = self.current.load();
        if current.list != list || current.upstreams != upstreams {
            self.current.store(Arc::new(PeerSet::new(list, upstreams)));
        }
    }

    /// Re-reads the API-declared secondaries and the upstream zones from the store now.
    #[cfg(feature = "cluster")]
    pub fn reload(&self, db: &nebula_store::db::Db) -> Result<(), nebula_store::db::DbError> {
        let declared = nebula_store::meta::list_secondaries(db)?;
        let upstreams = nebula_store::meta::list_upstreams(db)?;
        self.update(declared, upstreams);
        Ok(())
    }

    /// Re-reads them every second until `stop` turns true.
    #[cfg(feature = "cluster")]
    pub async fn refresh(
        self: Arc<Self>,
        db: Arc<nebula_store::db::Db>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        const REFRESH: Duration = Duration::from_secs(1);
        loop {
            if let Err(e) = self.reload(&db) {
                tracing::warn!(error = %e, "cannot read the declared secondaries");
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(REFRESH) => {}
            }
        }
    }
}
