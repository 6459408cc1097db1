//! tk_hello --port P: hyper 0.14 HTTP/1 server on 127.0.0.1:P answering
//! "hello" to every request (for wrk benchmarks). --port 0 (default) picks
//! a free port. Prints `LISTEN <port>` then `READY` on stdout; exits on a
//! stdin line or EOF (runtime shutdown drops open connections).
use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server};
use tkcommon::{ready, say, start, truth, Args};

async fn hello(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::from("hello")))
}

fn main() {
    let args = Args::parse("tk_hello", &["--port"], &[]);
    let port: u16 = args.get("--port", 0);
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let make = make_service_fn(|_conn| async { Ok::<_, Infallible>(service_fn(hello)) });
        let server = match Server::try_bind(&addr) {
            Ok(b) => b.serve(make),
            Err(e) => {
                eprintln!("tk_hello: cannot bind {addr}: {e}");
                std::process::exit(1);
            }
        };
        let port = server.local_addr().port();
        let server = tokio::spawn(server);
        say(&format!("LISTEN {port}"));
        truth(&format!(r#"{{"port":{port}}}"#));
        ready();
        let _ = release.await;
        server.abort();
    });
}
