#[hotpocket::contract]
struct C {
    total: i64,
}
