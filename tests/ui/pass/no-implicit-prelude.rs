//! The generated code names everything by absolute path, so it compiles in a
//! crate without the implicit prelude.
#![no_implicit_prelude]

mod contract {
    use ::hotpocket::{Json, Node, Npl, Result, Round, User};
    use ::std::string::String;

    #[derive(::std::default::Default)]
    pub struct Plain {
        pub last: String,
    }

    #[::hotpocket::contract(state = "plain.json", npl_timeout_ms = 10)]
    impl Plain {
        #[on_round_start]
        fn start(&mut self, _ctx: &mut Round) {}

        #[on_input]
        fn input(&mut self, _ctx: &mut Round, user: &User, Json(text): Json<String>) -> Result<()> {
            user.send(::std::clone::Clone::clone(&text))?;
            self.last = text;
            ::std::result::Result::Ok(())
        }

        #[on_read_request]
        fn read(&self, _ctx: &mut Round, _user: &User, _input: &str) {}

        #[on_npl]
        fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> Result<Npl> {
            ::std::result::Result::Ok(Npl::Done)
        }

        #[on_round_end]
        fn end(&mut self, _ctx: &mut Round) -> Result<()> {
            ::std::result::Result::Ok(())
        }
    }

    impl ::serde::Serialize for Plain {
        fn serialize<S: ::serde::Serializer>(
            &self,
            s: S,
        ) -> ::std::result::Result<S::Ok, S::Error> {
            s.serialize_str(&self.last)
        }
    }

    impl<'de> ::serde::Deserialize<'de> for Plain {
        fn deserialize<D: ::serde::Deserializer<'de>>(
            d: D,
        ) -> ::std::result::Result<Self, D::Error> {
            let last = <String as ::serde::Deserialize>::deserialize(d)?;
            ::std::result::Result::Ok(Plain { last })
        }
    }
}

fn main() {
    let mut plain = <contract::Plain as ::std::default::Default>::default();
    let out = ::hotpocket::testing::TestRound::new()
        .input("alice", "\"hi\"")
        .run(&mut plain);
    ::std::assert_eq!(out.outputs("alice"), ["hi"]);
}
