//! Small files served from memory are always the bytes on disk now: a file
//! replaced or rewritten under the same name is read again.

use std::path::Path;
use std::time::{Duration, SystemTime};

use bale_repo::Storage;
use futures::TryStreamExt;

/// Dates a file an hour back, as a package published earlier is, so the
/// cache keeps it.
fn settle(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

async fn served(storage: &Storage, key: &str) -> (Vec<u8>, Option<String>) {
    let object = storage.open_object(key).await.unwrap().unwrap();
    let tag = object.info.e_tag.clone();
    let size = object.info.size;
    let chunks: Vec<bytes::Bytes> = storage
        .stream(object, 0..size)
        .await
        .unwrap()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    (chunks.concat(), tag)
}

#[tokio::test]
async fn a_small_file_replaced_or_rewritten_is_served_anew() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(&dir.path().join("repo")).unwrap();
    let key = "org/example/hello/1/hello-1.json";
    let path = dir.path().join("repo").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{\"v\": 1}").unwrap();
    settle(&path);

    let (first, first_tag) = served(&storage, key).await;
    assert_eq!(first, b"{\"v\": 1}");
    // Served twice: the second answer comes from memory and is the same.
    assert_eq!(
        served(&storage, key).await,
        (first.clone(), first_tag.clone())
    );

    // Replaced by rename, as the store writes: a new inode.
    let staged = dir.path().join("staged");
    std::fs::write(&staged, b"{\"v\": 2}").unwrap();
    std::fs::rename(&staged, &path).unwrap();
    settle(&path);
    let (second, second_tag) = served(&storage, key).await;
    assert_eq!(second, b"{\"v\": 2}");
    assert_ne!(second_tag, first_tag);

    // Rewritten in place with the same size.
    std::fs::write(&path, b"{\"v\": 3}").unwrap();
    assert_eq!(served(&storage, key).await.0, b"{\"v\": 3}");

    // Removed: not found, not the remembered bytes.
    std::fs::remove_file(&path).unwrap();
    assert!(storage.open_object(key).await.unwrap().is_none());
}
