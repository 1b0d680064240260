//! Smez contracts generated from `proto/`: one module per versioned package.
//!
//! Services implement the generated `*_server` traits; callers hold the
//! generated `*_client` clients over a [`tonic`] transport of their choice.

/// The encoded `FileDescriptorSet` of every Smez package, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/smez_descriptor.bin"));

macro_rules! package {
    ($name:ident, $file:literal) => {
        pub mod $name {
            pub mod v1 {
                #![allow(clippy::all, missing_docs)]
                tonic::include_proto!($file);
            }
        }
    };
}

package!(common, "smez.common.v1");
package!(auth, "smez.auth.v1");
package!(workspace, "smez.workspace.v1");
package!(media, "smez.media.v1");
package!(render, "smez.render.v1");
package!(publisher, "smez.publisher.v1");
package!(analytics, "smez.analytics.v1");
package!(vault, "smez.vault.v1");
package!(jobs, "smez.jobs.v1");
package!(events, "smez.events.v1");

mod redact;
