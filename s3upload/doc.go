// Package s3upload moves a directory tree into S3 without ever losing a
// file: every regular file under a source folder is uploaded in parallel
// (multipart for files of 100 MiB and more, parts sent straight from the
// file) with a full-object CRC32 checksum computed while reading, the
// checksum S3 returns
// is compared with it, and only then, if asked, the source file is removed,
// and only when it did not change while it was being uploaded.
//
// Run is the one call; the CLI and the Lambda function only translate their
// input into Options and the Report into output.
//
// Why CRC32: it is the one full-object checksum that works for single PUTs
// and FULL_OBJECT multipart uploads on AWS, versitygw and moto alike:
// versitygw v1.8.0 rejects FULL_OBJECT CRC64NVME multipart uploads, and moto
// stores CRC32 under the CRC32C name when its optional crc32c module is
// missing.
//
// Why 100 MiB before going multipart (AWS's own advice; rclone waits for
// 200 MiB): below it, the 64 files in flight already keep every connection
// busy, and a multipart upload costs three or more requests, part
// bookkeeping and a server-side assembly for no gain in speed. On
// versitygw eight 64 MiB files upload about twice as fast in single PUTs
// as in 8 MiB parts (docs/BENCHMARKS.md).
package s3upload
