import DICOM

// medsynth-decode-worker: the child process in which import and listen parse
// and decode untrusted files, so that a file that crashes or hangs DCMTK costs
// that file only. Not for people: it reads one JSON request per line on
// standard input and answers one JSON line each (DICOM's `DecodeService`).
DecodeService.serve()
