//! `pkg_router::client` with `.format(Format::Protobuf)` against a real server over loopback:
//! typed calls, pages, error answers and pushes, all in binary frames.
#![allow(clippy::unwrap_used, unreachable_pub)] // a failed unwrap is a failed test

mod support;

use pkg_router::client::{CallError, Client, ConnectError, Format};
use pkg_router::transport::WsConfig;
use pkg_router::{HandlerError, Hub, PageMeta, PageParams, Paginated, RequestModel, Router};
use serde_json::{Value, json};
use support::Server;

async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(req.data))
}

async fn refuse() -> Result<(), HandlerError> {
    Err(HandlerError::not_found("no such thing"))
}

async fn page(params: PageParams) -> Result<Paginated<u32>, HandlerError> {
    let items = (params.offset() as u32..)
        .take(params.per_page as usize)
        .collect();
    Ok(Paginated::new(
        items,
        PageMeta::offset(params.page, params.per_page, 5_000_000_000),
    ))
}

async fn shout(req: RequestModel, hub: Hub) -> Result<(), HandlerError> {
    hub.broadcast(100u32, &req.data)?;
    Ok(())
}

async fn server() -> Server {
    let router = Router::builder()
        .hub(Hub::new())
        .handler(1, echo)
        .handler(2, refuse)
        .handler(3, page)
        .handler(4, shout)
        .build()
        .unwrap();
    Server::start(router, WsConfig::default()).await
}

#[tokio::test]
async fn a_protobuf_client_calls_pages_and_receives_pushes() {
    let server = server().await;
    let client = Client::connect(server.url(""))
        .token("alice")
        .format(Format::Protobuf)
        .await
        .unwrap();
    let mut pushes = client.pushes_of(100u32);

    // Exact JSON through data_json: big integers and nested empties survive.
    let sent = json!({"n": 18446744073709551615u64, "list": [], "obj": {}});
    let back: Value = client.call(1u32, &sent).await.unwrap();
    assert_eq!(back, sent);

    let err = client.call::<_, Value>(2u32, &json!({})).await.unwrap_err();
    assert!(matches!(err, CallError::Rejected { .. }), "{err:?}");
    assert_eq!(err.code(), Some("not_found"));

    let page: Paginated<u32> = client
        .call_page(3u32, &json!({"page": 2, "per_page": 3}))
        .await
        .unwrap();
    assert_eq!(page.items, vec![3, 4, 5]);
    // Counts above i32::MAX arrive clamped over protobuf (JSON carries them exactly).
    assert_eq!((page.meta.page, page.meta.total), (2, i32::MAX as u64));

    let () = client.call(4u32, &json!({"hello": "world"})).await.unwrap();
    let push = pushes.next().await.unwrap();
    assert_eq!((push.pkg_id, push.data), (100, json!({"hello": "world"})));
    client.close().await;
}

#[tokio::test]
async fn a_url_naming_another_format_is_refused() {
    let server = server().await;
    let err = Client::connect(server.url("?format=json"))
        .format(Format::Protobuf)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::InvalidUrl(_)), "{err:?}");
}
