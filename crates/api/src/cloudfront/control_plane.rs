//! The `cloudfront` control plane for key value stores (rest-xml, `/2020-05-31/key-value-store`):
//! CreateKeyValueStore, DescribeKeyValueStore, ListKeyValueStores, UpdateKeyValueStore (comment,
//! with If-Match) and DeleteKeyValueStore (with If-Match), as boto3's `cloudfront` client sends and
//! parses them. Stores created here get the `cloudfront` profile.

use super::errors::CfrError;
use super::{arn, Plane, XMLNS};
use crate::rest::reply;
use crate::rest::route::{self, Mount, Route, Seg, Verb};
use crate::{Body, Management};
use edgekv_store::{
    Namespace, NamespaceOrder, NamespacePage, NamespaceQuery, NamespaceUpdate, NewNamespace,
    Profile,
};
use http::response::Builder;
use hyper::{Response, StatusCode};
use quick_xml::escape::escape;
use serde::Deserialize;

/// ListKeyValueStores' page when the request names none, and its largest (a REST convention of
/// the API, not a KV rule).
const DEFAULT_MAX_ITEMS: u64 = 100;
/// The longest comment the API's model allows (a constraint of its request shape, not a KV rule).
const MAX_COMMENT_CHARS: usize = 128;
/// The largest request body of the control plane (a REST convention, not a KV rule): its bodies
/// are small XML documents (a name of at most 64 characters, a comment of at most 128, an import
/// source's ARN of at most 2048), so 64 KiB holds any of them many times over.
const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Serves one control-plane request: the head checked, the body read under `MAX_BODY_BYTES` and
/// its signature verified, then the operation.
pub async fn handle(
    m: &Management,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Response<Body>, CfrError> {
    let claim = super::check_head(m, Plane::Control, parts)?;
    let body = super::read_verified(m, parts, &claim, body, MAX_BODY_BYTES).await?;
    let mut found = route::dispatch(&MOUNT, ROUTES, &parts.method, parts.uri.path())
        .map_err(super::unrouted)?;
    let target = route::target(&parts.uri);
    let name = found.param();
    match found.op {
        Op::Create => create(m, &body).await,
        Op::List => list(m, target).await,
        Op::Describe => describe(m, &name).await,
        Op::Update => update(m, &name, if_match(parts)?, &body).await,
        Op::Delete => delete(m, &name, if_match(parts)?).await,
    }
}

/// Where every route is: `/2020-05-31/key-value-store`.
pub const MOUNT: Mount = Mount(&[&[Seg::Lit("2020-05-31"), Seg::Lit("key-value-store")]]);

/// The control plane's operations.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Create,
    List,
    Describe,
    Update,
    Delete,
}

const NAME: Seg = Seg::Param("Name");

/// Every route, below `MOUNT`.
#[rustfmt::skip]
pub const ROUTES: &[Route<Op>] = &[
    Route { verb: Verb::Post, pattern: &[], op: Op::Create },
    Route { verb: Verb::Get, pattern: &[], op: Op::List },
    Route { verb: Verb::Get, pattern: &[NAME], op: Op::Describe },
    Route { verb: Verb::Put, pattern: &[NAME], op: Op::Update },
    Route { verb: Verb::Delete, pattern: &[NAME], op: Op::Delete },
];

fn if_match(parts: &http::request::Parts) -> Result<String, CfrError> {
    parts
        .headers
        .get(hyper::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            CfrError::new(
                StatusCode::BAD_REQUEST,
                "InvalidIfMatchVersion",
                "The If-Match version is missing",
            )
        })
}

fn render(m: &Management, ns: &Namespace) -> String {
    let modified = time::OffsetDateTime::from_unix_timestamp(ns.modified_at_ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    format!(
        "<Name>{}</Name><Id>{}</Id><Comment>{}</Comment><ARN>{}</ARN><Status>READY</Status><LastModifiedTime>{modified}</LastModifiedTime>",
        escape(ns.name.as_str()),
        ns.id.hyphenated(),
        escape(ns.comment.as_deref().unwrap_or("")),
        arn(&m.credentials().aws_account_id, &ns.id),
    )
}

/// An XML response of `document`, with the store's `ETag` where there is one.
fn xml(head: Builder, etag: Option<&str>, document: &str) -> Result<Response<Body>, CfrError> {
    let head = match etag {
        Some(etag) => head.header(hyper::header::ETAG, etag),
        None => head,
    };
    Ok(reply::xml(head, document)?)
}

/// The head of a 200 response.
fn ok() -> Builder {
    Plane::Control.head(StatusCode::OK)
}

fn store_xml(m: &Management, ns: &Namespace) -> String {
    format!(
        "<KeyValueStore xmlns=\"{XMLNS}\">{}</KeyValueStore>",
        render(m, ns)
    )
}

/// Control-plane errors for store errors: a duplicate name is EntityAlreadyExists.
fn store_error(e: edgekv_store::StoreError) -> CfrError {
    match e {
        edgekv_store::StoreError::NamespaceExists(name) => CfrError::new(
            StatusCode::CONFLICT,
            "EntityAlreadyExists",
            format!("A key value store named {name} already exists"),
        ),
        edgekv_store::StoreError::Rule(v) if v.rule == edgekv_store::Rule::NamespaceName => {
            CfrError::validation(format!(
                "The name must be 1 to {} characters from a-z, A-Z, 0-9, hyphen and underscore",
                v.limit
            ))
        }
        e => CfrError::from_store(e),
    }
}

#[derive(Deserialize)]
struct CreateRequest {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Comment")]
    comment: Option<String>,
    #[serde(rename = "ImportSource")]
    import_source: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct UpdateRequest {
    #[serde(rename = "Comment")]
    comment: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, CfrError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| CfrError::validation("The request body is not UTF-8"))?;
    quick_xml::de::from_str(text)
        .map_err(|e| CfrError::validation(format!("Invalid XML request body: {e}")))
}

/// The model caps comments at 128 characters.
fn check_comment(comment: Option<&str>) -> Result<(), CfrError> {
    match comment {
        Some(c) if c.chars().count() > MAX_COMMENT_CHARS => Err(CfrError::validation(format!(
            "The comment is longer than {MAX_COMMENT_CHARS} characters"
        ))),
        _ => Ok(()),
    }
}

async fn create(m: &Management, body: &[u8]) -> Result<Response<Body>, CfrError> {
    let request: CreateRequest = parse(body)?;
    if request.import_source.is_some() {
        return Err(CfrError::new(
            StatusCode::BAD_REQUEST,
            "UnsupportedOperation",
            "Importing from S3 is not supported by edgekv; write the keys with UpdateKeys",
        ));
    }
    check_comment(request.comment.as_deref())?;
    let new = NewNamespace {
        comment: request.comment,
        ..NewNamespace::new(request.name, Profile::Cloudfront)
    };
    let ns = m
        .store()
        .run(move |s| s.create_namespace(new))
        .await
        .map_err(store_error)?;
    let location = format!("/2020-05-31/key-value-store/{}", ns.name);
    let head = Plane::Control
        .head(StatusCode::CREATED)
        .header(hyper::header::LOCATION, location);
    xml(head, Some(ns.etag().as_str()), &store_xml(m, &ns))
}

/// A store by name (not by id), only if it is a CloudFront store.
async fn find(m: &Management, name: &str) -> Result<Namespace, CfrError> {
    let not_found = || CfrError::not_found(format!("The key value store {name} was not found"));
    let wanted = name.to_string();
    let ns = m
        .store()
        .run(move |s| s.namespace(&wanted))
        .await
        .map_err(|e| match e {
            edgekv_store::StoreError::NamespaceNotFound(_) => not_found(),
            e => store_error(e),
        })?;
    match ns.profile {
        Profile::Cloudfront if ns.name == name => Ok(ns),
        _ => Err(not_found()),
    }
}

async fn describe(m: &Management, name: &str) -> Result<Response<Body>, CfrError> {
    let ns = find(m, name).await?;
    xml(ok(), Some(ns.etag().as_str()), &store_xml(m, &ns))
}

async fn list(m: &Management, target: &str) -> Result<Response<Body>, CfrError> {
    let number = |name: &str| match route::query_param(target, name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<u64>()
            .map(Some)
            .map_err(|_| CfrError::validation(format!("{name} must be a number"))),
    };
    let offset = number("Marker")?.unwrap_or(0);
    let max_items = number("MaxItems")?
        .unwrap_or(DEFAULT_MAX_ITEMS)
        .clamp(1, DEFAULT_MAX_ITEMS);
    let query = NamespaceQuery {
        profile: Some(Profile::Cloudfront),
        order: NamespaceOrder::Created,
        descending: false,
        offset,
        limit: max_items,
    };
    // Every store is READY, so a filter on any other status matches none.
    let any_ready = route::query_param(target, "Status").is_none_or(|s| s == "READY");
    let page = match any_ready {
        true => m
            .store()
            .run(move |s| s.list_namespaces(&query))
            .await
            .map_err(store_error)?,
        false => NamespacePage {
            namespaces: Vec::new(),
            total: 0,
        },
    };
    let items: String = page
        .namespaces
        .iter()
        .map(|ns| format!("<KeyValueStore>{}</KeyValueStore>", render(m, ns)))
        .collect();
    let next = offset + page.namespaces.len() as u64;
    let next_marker = if next < page.total {
        format!("<NextMarker>{next}</NextMarker>")
    } else {
        String::new()
    };
    let body = format!(
        "<KeyValueStoreList xmlns=\"{XMLNS}\">{next_marker}<MaxItems>{max_items}</MaxItems><Quantity>{}</Quantity><Items>{items}</Items></KeyValueStoreList>",
        page.namespaces.len()
    );
    xml(ok(), None, &body)
}

async fn update(
    m: &Management,
    name: &str,
    etag: String,
    body: &[u8],
) -> Result<Response<Body>, CfrError> {
    let request: UpdateRequest = parse(body)?;
    check_comment(Some(&request.comment))?;
    let ns = find(m, name).await?;
    let update = NamespaceUpdate {
        comment: Some(Some(request.comment)),
        if_match: Some(etag),
        ..NamespaceUpdate::default()
    };
    let id = ns.id;
    let ns = m
        .store()
        .run(move |s| s.update_namespace(&id, update))
        .await
        .map_err(store_error)?;
    xml(ok(), Some(ns.etag().as_str()), &store_xml(m, &ns))
}

async fn delete(m: &Management, name: &str, etag: String) -> Result<Response<Body>, CfrError> {
    let ns = find(m, name).await?;
    let id = ns.id;
    m.store()
        .run(move |s| s.delete_namespace(&id, Some(&etag)))
        .await
        .map_err(store_error)?;
    Ok(reply::bytes(
        Plane::Control.head(StatusCode::NO_CONTENT),
        "",
    )?)
}
