//! Only `#[on_*]` methods are handlers; everything else in the block passes
//! through untouched, attributes and doc comments included.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Tally {
        pub count: u32,
    }

    macro_rules! getter {
        ($name:ident) => {
            pub fn $name(&self) -> u32 {
                self.count
            }
        };
    }

    /// Docs on the block stay.
    #[hotpocket::contract]
    #[allow(clippy::needless_pass_by_ref_mut)]
    impl Tally {
        /// A constant in the block.
        pub const LIMIT: u32 = 3;

        /// Docs on a handler stay.
        #[inline]
        #[allow(unused_variables)]
        #[on_input]
        #[must_use = "not really"]
        fn input(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {
            self.bump();
        }

        #[inline(always)]
        fn bump(&mut self) {
            if self.count < Self::LIMIT {
                self.count += 1;
            }
        }

        #[cfg(any())]
        fn compiled_out(&self) -> NotAType {}

        getter!(current);
    }
}

fn main() {
    let mut tally = contract::Tally::default();
    let out = hotpocket::testing::TestRound::new()
        .input("a", "1")
        .input("a", "2")
        .input("b", "3")
        .input("b", "4")
        .run(&mut tally);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(tally.current(), contract::Tally::LIMIT);
}
