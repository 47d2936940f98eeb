package proxy

import (
	"io"
	"net/http"
	"sync"
)

// Request bodies are read into pooled buffers. That is safe because
// nothing keeps a reference into the body once the handler returns: the
// decoder copies keys, header values and ids, the pipeline frames each
// value into a buffer of its own (validate.Frame) and its decoded form
// (jsonvalue.Doc) holds a copy, and the answer is written before the
// buffer goes back. Keep it so: a sub-slice of the body handed to
// franz-go would be read after a produce timeout (504), when the buffer
// may already hold another request.

// maxPooledBody is the largest buffer kept for reuse.
const maxPooledBody = 4 << 20

var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// readBody reads r's body, up to limit bytes (an *http.MaxBytesError
// beyond), into a pooled buffer; release gives the buffer back (calls after
// the first do nothing). The Content-Length, when sent, sizes the buffer up
// front.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, release func(), err error) {
	bp := bodyPool.Get().(*[]byte)
	buf := (*bp)[:0]
	if n := r.ContentLength; n > 0 && n <= limit && int64(cap(buf)) < n+1 {
		buf = make([]byte, 0, n+1) // +1: room to see EOF without growing
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		if cap(buf) <= maxPooledBody {
			*bp = buf[:0]
			bodyPool.Put(bp)
		}
	}
	return buf, release, err
}
