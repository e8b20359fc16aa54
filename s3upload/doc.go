// Package s3upload moves a directory tree into S3 without ever losing a
// file: every regular file under a source folder is uploaded in parallel
// (multipart for large files, through the SDK's transfer manager) with a
// full-object CRC32 checksum computed while reading, the checksum S3 returns
// is compared with it, and only then, if asked, the source file is removed,
// and only when it did not change while it was being uploaded.
//
// Run is the one call; the CLI and the Lambda function only translate their
// input into Options and the Report into output.
//
// Why CRC32: it is the one full-object checksum that works for single PUTs
// and FULL_OBJECT multipart uploads on AWS, versitygw and moto alike. The
// transfer manager (v0.5.7) drops CRC64NVME part checksums from
// CompleteMultipartUpload, which servers then reject, and moto stores CRC32
// under the CRC32C name when its optional crc32c module is missing.
package s3upload
