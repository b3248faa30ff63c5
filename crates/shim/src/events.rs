//! Events to containerd. The library's publisher names each event through protobuf
//! reflection, and the first use of reflection builds descriptors of containerd's protos (with
//! their comments) on the heap: ~400 KiB kept resident by every shim for a name that is known
//! at compile time. This client names the event from the generated code's `NAME` and forwards
//! the same envelope over its own ttrpc connection.

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::MessageFull;
use containerd_shim::protos::shim::event::Envelope;
use containerd_shim::protos::shim::events::ForwardRequest;
use containerd_shim::protos::shim::events_ttrpc::EventsClient;
use containerd_shim::protos::ttrpc::{context::Context, Client};
use containerd_shim::publisher::RemotePublisher;

/// Every task event is in this protobuf package (containerd's api/events/task.proto).
const PACKAGE: &str = "containerd.events";

pub(crate) enum Publisher {
    Direct(EventsClient),
    /// Kept only when the own connection could not be made.
    Library(RemotePublisher),
}

impl Publisher {
    /// Connects to containerd's ttrpc address (the TTRPC_ADDRESS it gave the shim).
    pub(crate) fn new(library: RemotePublisher) -> Publisher {
        let direct = std::env::var("TTRPC_ADDRESS")
            .map_err(|e| e.to_string())
            .and_then(|addr| containerd_shim::util::connect(addr).map_err(|e| e.to_string()))
            .and_then(|fd| Client::new(fd).map_err(|e| e.to_string()));
        match direct {
            Ok(client) => Publisher::Direct(EventsClient::new(client)),
            Err(e) => {
                log::warn!("events: own connection to containerd failed ({e}); using the library's publisher");
                Publisher::Library(library)
            }
        }
    }

    pub(crate) fn publish<M: MessageFull>(
        &self,
        topic: &str,
        namespace: &str,
        event: Box<M>,
    ) -> anyhow::Result<()> {
        match self {
            Publisher::Library(p) => Ok(p.publish(Context::default(), topic, namespace, event)?),
            Publisher::Direct(client) => {
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
                client.forward(Context::default(), &req)?;
                Ok(())
            }
        }
    }
}
