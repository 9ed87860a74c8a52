//! The HTTP toolkit every dialect shares, so each reads a request and writes a response the same
//! way: `route` (where a dialect is mounted, and which operation of its route table a request
//! names), `body` (a request body read whole under a limit, refused early when declared too
//! large) and `reply` (JSON, XML and raw responses; one that cannot be built is a 500, never an
//! empty 200). The dialects keep only what is theirs: their routes, their limits' wording, their
//! error format.

pub mod body;
pub mod reply;
pub mod route;

/// For the dialects' tests: every rule the store has, in a chain whose `match` is exhaustive, so
/// a rule added to the store does not compile here until it is linked in, and no dialect's test of
/// its rule mapping can miss it.
#[cfg(test)]
pub(crate) fn every_rule() -> Vec<edgekv_store::Rule> {
    use edgekv_store::Rule;
    fn next(rule: Rule) -> Option<Rule> {
        Some(match rule {
            Rule::KeyEmpty => Rule::KeyDotSegment,
            Rule::KeyDotSegment => Rule::KeyTooLong,
            Rule::KeyTooLong => Rule::KeyTooLarge,
            Rule::KeyTooLarge => Rule::KeyCharset,
            Rule::KeyCharset => Rule::KeyReserved,
            Rule::KeyReserved => Rule::ValueTooLarge,
            Rule::ValueTooLarge => Rule::MetadataTooLarge,
            Rule::MetadataTooLarge => Rule::MetadataNotJson,
            Rule::MetadataNotJson => Rule::ExpiryUnsupported,
            Rule::ExpiryUnsupported => Rule::TtlTooShort,
            Rule::TtlTooShort => Rule::TtlTooLong,
            Rule::TtlTooLong => Rule::ExpirationInPast,
            Rule::ExpirationInPast => Rule::ExpirationTooSoon,
            Rule::ExpirationTooSoon => Rule::ExpirationTooLate,
            Rule::ExpirationTooLate => Rule::StoreFull,
            Rule::StoreFull => Rule::BatchTooManyItems,
            Rule::BatchTooManyItems => Rule::BatchTooLarge,
            Rule::BatchTooLarge => Rule::BulkGetTooManyKeys,
            Rule::BulkGetTooManyKeys => Rule::ListLimit,
            Rule::ListLimit => Rule::NamespaceName,
            Rule::NamespaceName => Rule::ContentType,
            Rule::ContentType => return None,
        })
    }
    std::iter::successors(Some(Rule::KeyEmpty), |rule| next(*rule)).collect()
}
