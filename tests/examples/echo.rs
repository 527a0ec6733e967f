//! examples/echo.rs as a real child process under the engine-faithful host:
//! 3 users, empty, binary and 1 MiB inputs, both engine argument variants.

use hotpocket::sim::{Cluster, Exit, Variant};

use crate::cargo_example;

#[test]
fn echoes_every_input_of_every_user_in_both_variants() {
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    let binary = [0u8, 0xff, 0x00, 0x80, b'\n'];
    for variant in [Variant::Readonly, Variant::Mode] {
        let mut c = Cluster::builder(cargo_example("echo").unwrap())
            .nodes(3)
            .variant(variant)
            .build()
            .unwrap();
        c.input("carol", "third")
            .input("alice", "")
            .input("alice", binary)
            .input("bob", &big);
        c.input("alice", "last");
        let r = c.round().unwrap();
        r.assert_agree().assert_success().assert_no_hazards();
        for node in &r.nodes {
            assert_eq!(node.exit, Exit::Code(0), "{r}");
            let alice = node.outputs_to("alice");
            let mut want_binary = b"echo: ".to_vec();
            want_binary.extend_from_slice(&binary);
            assert_eq!(
                alice,
                [b"echo: ".to_vec(), want_binary, b"echo: last".to_vec()]
            );
            let bob = node.outputs_to("bob");
            assert_eq!(bob.len(), 1);
            assert_eq!(&bob[0][..6], b"echo: ");
            assert_eq!(&bob[0][6..], &big[..]);
            assert_eq!(node.outputs_to("carol"), [b"echo: third".to_vec()]);
        }
    }
}
