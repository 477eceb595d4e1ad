//! Storage writes are atomic for readers, on local disk and on S3 (moto).

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bale_repo::{RepoError, Storage};
use futures::TryStreamExt;

fn open(backend: &common::Backend, dir: &std::path::Path) -> Storage {
    match backend {
        common::Backend::Local => Storage::local(&dir.join("repo")).unwrap(),
        common::Backend::S3(moto) => {
            let mut options = common::options_for(dir);
            moto.configure(&mut options);
            Storage::open(&options.storage_url, &options.storage_options).unwrap()
        }
    }
}

async fn a_large_write_is_never_seen_partially(backend: common::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&backend, dir.path());
    // Past the single-request size, so it is written in parts.
    let data: Vec<u8> = (0..40u32 << 20).map(|i| (i % 251) as u8).collect();
    let source = dir.path().join("big.bin");
    std::fs::write(&source, &data).unwrap();
    let key = "org/example/big/1/big-1.bale";

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (storage, done, expected) = (storage.clone(), done.clone(), data.len() as u64);
        tokio::spawn(async move {
            let mut observations = 0;
            while !done.load(Ordering::Relaxed) {
                if let Some(info) = storage.head(key).await.unwrap() {
                    assert_eq!(info.size, expected, "a reader saw a partial object");
                    observations += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            observations
        })
    };
    storage.put_file(key, &source).await.unwrap();
    done.store(true, Ordering::Relaxed);
    reader.await.unwrap();

    let stream = storage
        .read_range(key, 0..data.len() as u64)
        .await
        .unwrap()
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    assert_eq!(chunks.concat(), data);
    let middle = storage.read_range(key, 1000..2000).await.unwrap().unwrap();
    let middle: Vec<bytes::Bytes> = middle.try_collect().await.unwrap();
    assert_eq!(middle.concat(), &data[1000..2000]);
    for range in [
        0..data.len() as u64,
        5..(3 << 20) + 7,
        (39 << 20)..data.len() as u64,
    ] {
        let object = storage.open_object(key).await.unwrap().unwrap();
        assert_eq!(object.info.size, data.len() as u64);
        let chunks: Vec<bytes::Bytes> = storage
            .stream(object, range.clone())
            .await
            .unwrap()
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(
            chunks.concat() == data[range.start as usize..range.end as usize],
            "range {range:?}"
        );
    }
    assert!(storage
        .open_object("org/example/big/1/none.bale")
        .await
        .unwrap()
        .is_none());
    assert!(storage
        .head("org/example/big/1/none.bale")
        .await
        .unwrap()
        .is_none());
    assert!(storage
        .read_small("org/example/big/1/none.bale")
        .await
        .unwrap()
        .is_none());

    if let common::Backend::Local = backend {
        // Only the final name is in the directory: no staging file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("repo/org/example/big/1"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["big-1.bale"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_local_write_is_never_seen_partially() {
    a_large_write_is_never_seen_partially(common::Backend::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_s3_write_is_never_seen_partially() {
    if let Some(backend) = common::Backend::get(true).await {
        a_large_write_is_never_seen_partially(backend).await;
    }
}

#[test]
fn storage_urls_name_a_directory_or_an_s3_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let local = Storage::open(&format!("file://{}", dir.path().join("r").display()), &[]).unwrap();
    assert_eq!(local.local_dir(), Some(dir.path().join("r")));
    assert!(dir.path().join("r").is_dir());
    assert!(matches!(
        Storage::open("ftp://host/x", &[]),
        Err(RepoError::StorageUrl(_))
    ));
    assert!(matches!(
        Storage::open("s3://?endpoint=http://127.0.0.1:1", &[]),
        Err(RepoError::StorageUrl(_))
    ));
    let err = Storage::open("s3://bucket?no_such_setting=1", &[]).unwrap_err();
    assert!(err.to_string().contains("no_such_setting"), "{err}");
    let s3 = Storage::open(
        "s3://bucket/prefix?endpoint=http://127.0.0.1:1&region=us-east-1",
        &[],
    )
    .unwrap();
    assert_eq!(s3.description(), "s3://bucket/prefix");
    assert_eq!(s3.local_dir(), None);
}

#[tokio::test]
async fn keys_are_stored_under_their_own_names() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(&dir.path().join("repo")).unwrap();
    let key = "org/example/hello/0~beta+deb1/hello-0~beta+deb1.bale";
    storage
        .put_bytes(key, bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert!(
        dir.path().join("repo").join(key).is_file(),
        "a static server finds the file at its URL path"
    );
    assert_eq!(
        storage.read_small(key).await.unwrap().unwrap().as_ref(),
        b"x"
    );
}
