// Package s3upload moves a directory tree into S3 without ever losing a
// file: every regular file under a source folder is uploaded in parallel
// (multipart for files of 100 MiB and more, parts sent straight from the
// file) with a full-object CRC32 checksum computed while reading; the
// checksum S3 returns is compared with it, and only then, if asked, the
// source file is removed, and only when it did not change while it was
// being uploaded. Files and folders are opened and removed relative to the
// folder that listed them (walk.go), so nothing outside the source folder
// is ever read or deleted, whatever changes under a running upload.
//
// Run is the one call for an upload; the CLI and the Lambda function only
// translate their input into Options and the Report into output. To spread
// a tree over many runs, Options.Shard takes one shard of it, and MakePlan
// writes batches that Runs with Options.Batch upload one each (a Step
// Functions Distributed Map's children, an array job's tasks); Summarize
// adds their reports up (plan.go has the objects a plan is made of).
//
// Why CRC32: it is the one full-object checksum that works for single PUTs
// and FULL_OBJECT multipart uploads on AWS, versitygw and moto alike:
// versitygw rejects FULL_OBJECT CRC64NVME multipart uploads, and moto
// stores CRC32 under the CRC32C name when its optional crc32c module is
// missing (docs/NOTES.md says which releases).
//
// Why 100 MiB before going multipart (AWS's own advice): below it, the
// files in flight already keep every connection busy, and a multipart
// upload costs three or more requests, part bookkeeping and a server-side
// assembly for no gain in speed; files of tens of MiB go up faster in
// single PUTs than in parts (docs/NOTES.md has the measurement).
package s3upload
