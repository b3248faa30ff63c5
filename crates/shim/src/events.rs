//! Events to containerd. The library's publisher names each event through protobuf
//! reflection, and the first use of reflection builds descriptors of containerd's protos (with
//! their comments) on the heap: ~400 KiB kept resident by every shim for a name that is known
//! at compile time. This client names the event from the generated code's `NAME` and forwards
//! the same envelope over its own ttrpc connection, made again when containerd has restarted.

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::MessageFull;
use containerd_shim::protos::shim::event::Envelope;
use containerd_shim::protos::shim::events::ForwardRequest;
use containerd_shim::protos::shim::events_ttrpc::EventsClient;
use containerd_shim::protos::ttrpc::{context::Context, Client};
use std::sync::Mutex;

/// Every task event is in this protobuf package (containerd's api/events/task.proto).
const PACKAGE: &str = "containerd.events";

pub(crate) struct Publisher {
    /// containerd's ttrpc address (TTRPC_ADDRESS in the shim's environment).
    address: String,
    client: Mutex<Option<EventsClient>>,
}

impl Publisher {
    pub(crate) fn new() -> Publisher {
        let p = Publisher {
            address: std::env::var("TTRPC_ADDRESS").unwrap_or_default(),
            client: Mutex::new(None),
        };
        if let Err(e) = p.connected(&mut p.lock()) {
            log::warn!("events: {e:#}");
        }
        p
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<EventsClient>> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connected<'a>(
        &self,
        slot: &'a mut Option<EventsClient>,
    ) -> anyhow::Result<&'a EventsClient> {
        if slot.is_none() {
            let fd = containerd_shim::util::connect(&self.address)
                .map_err(|e| anyhow::anyhow!("connect to containerd at {:?}: {e}", self.address))?;
            *slot = Some(EventsClient::new(Client::new(fd)?));
        }
        slot.as_ref()
            .ok_or_else(|| anyhow::anyhow!("no connection to containerd"))
    }

    /// Sends one event; a broken connection (containerd restarted) is made again once.
    pub(crate) fn publish<M: MessageFull>(
        &self,
        topic: &str,
        namespace: &str,
        event: M,
    ) -> anyhow::Result<()> {
        let mut any = Any::new();
        any.type_url = format!("{PACKAGE}.{}", M::NAME);
        any.value = event.write_to_bytes()?;
        let mut envelope = Envelope::new();
        envelope.set_topic(topic.to_owned());
        envelope.set_namespace(namespace.to_owned());
        envelope.set_timestamp(crate::tasks::now());
        envelope.set_event(any);
        let mut req = ForwardRequest::new();
        req.set_envelope(envelope);
        let mut slot = self.lock();
        if self
            .connected(&mut slot)?
            .forward(Context::default(), &req)
            .is_ok()
        {
            return Ok(());
        }
        *slot = None;
        self.connected(&mut slot)?
            .forward(Context::default(), &req)?;
        Ok(())
    }
}
