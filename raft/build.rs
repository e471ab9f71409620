//! Generates the node-to-node gRPC service (tonic) without protoc: every method carries one
//! opaque `Blob` (a prost message with a bytes field) holding JSON of openraft's own types,
//! so the wire schema cannot drift from the Raft library's.

fn main() {
    let method = |name: &str, route: &str| {
        tonic_build::manual::Method::builder()
            .name(name)
            .route_name(route)
            .input_type("crate::transport::Blob")
            .output_type("crate::transport::Blob")
            .codec_path("tonic_prost::ProstCodec")
            .build()
    };
    let service = tonic_build::manual::Service::builder()
        .name("Raft")
        .package("nebula.raft.v1")
        .method(method("vote", "Vote"))
        .method(method("install_snapshot", "InstallSnapshot"))
        // Replication: one long-lived bidirectional stream per follower, AppendEntries requests
        // one way and their results the other, in order (pipelined by openraft).
        .method(
            tonic_build::manual::Method::builder()
                .name("stream_append")
                .route_name("StreamAppend")
                .input_type("crate::transport::Blob")
                .output_type("crate::transport::Blob")
                .codec_path("tonic_prost::ProstCodec")
                .client_streaming()
                .server_streaming()
                .build(),
        )
        .method(method("forward", "Forward"))
        .method(method("read_index", "ReadIndex"))
        .method(method("node_status", "NodeStatus"))
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}
