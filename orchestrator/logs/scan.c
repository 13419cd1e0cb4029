/* The lines that fill a Darknet log, recognised and read in one pass at memory speed.
 *
 * Python describes each printf a log's regular lines come from as a small program (see
 * orchestrator/logs/scan.py): literals to match byte for byte, and fields to read. This file
 * walks a chunk line by line, runs the programs against each line and writes, for every
 * line, where it starts and ends and which printf it is (or why it is none), and for every
 * line that is one, the fields read. It knows nothing of Darknet: what the lines mean stays
 * in Python.
 *
 * Only what Darknet's printf produces is accepted, so that a line read here is one the
 * parser's regular expressions read the same way:
 *   %d        1 to 16 digits, no sign, no leading zero;
 *   decimal   an optional '-', digits, optionally a dot and digits, at most 16 bytes
 *             (%f, %.3f...), or "nan" / "-nan";
 *   choice    a run of lowercase letters that is one of a list of words (read as its index).
 * A decimal is exact: its digits form an integer mantissa below 10**15 < 2**53 and one IEEE
 * division by 10**k (itself exact) rounds it correctly, as Python's float() does the text.
 * Anything else makes the line irregular, and the regular expressions get it.
 *
 * Also here: terminal escapes removed from a chunk, exactly as the regular expression
 * `\x1b\][^\x07\n]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-z]` would remove them, and the lines
 * holding a text found (failure markers), both without the GIL.
 */
#define _GNU_SOURCE /* memmem, memrchr */
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { OP_END = 'E', OP_LITERAL = 'L', OP_INT = 'I', OP_DECIMAL = 'F', OP_CHOICE = 'C' };

/* A line's status when it is none of the printfs (printf indices are >= 0). */
enum { LINE_WITH_COMMA = -1, LINE_WITHOUT_COMMA = -2, LINE_WITH_RETURN = -3 };

enum { MAX_TOKEN = 16 };

static const double POWERS_OF_TEN[MAX_TOKEN] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* A %d token at p, or NULL. */
static const uint8_t *read_int(const uint8_t *p, const uint8_t *end, int64_t *value) {
    const uint8_t *q = p;
    uint64_t number = 0;
    while (q < end && q - p <= MAX_TOKEN && is_digit(*q)) number = number * 10 + (uint64_t)(*q++ - '0');
    if (q == p || q - p > MAX_TOKEN || (q - p > 1 && *p == '0')) return NULL;
    *value = (int64_t)number;
    return q;
}

/* A decimal token at p, or NULL. */
static const uint8_t *read_decimal(const uint8_t *p, const uint8_t *end, double *value) {
    const uint8_t *q = p;
    int negative = q < end && *q == '-';
    q += negative;
    if (end - q >= 3 && memcmp(q, "nan", 3) == 0) {
        *value = negative ? -NAN : NAN;
        return q + 3;
    }
    uint64_t mantissa = 0;
    const uint8_t *digits = q;
    while (q < end && q - p <= MAX_TOKEN && is_digit(*q)) mantissa = mantissa * 10 + (uint64_t)(*q++ - '0');
    if (q == digits) return NULL;
    long places = 0;
    if (q < end && *q == '.') {
        const uint8_t *fraction = ++q;
        while (q < end && q - p <= MAX_TOKEN && is_digit(*q)) mantissa = mantissa * 10 + (uint64_t)(*q++ - '0');
        places = q - fraction;
        if (places == 0) return NULL;
    }
    if (q - p > MAX_TOKEN) return NULL;
    double number = (double)mantissa / POWERS_OF_TEN[places];
    *value = negative ? -number : number;
    return q;
}

/* A choice at p: the run of lowercase letters there must be one of the program's words. */
static const uint8_t *read_choice(const uint8_t *p, const uint8_t *end, const uint8_t **program, int64_t *value) {
    const uint8_t *q = p;
    while (q < end && *q >= 'a' && *q <= 'z') q++;
    size_t length = (size_t)(q - p);
    int words = *(*program)++, found = -1;
    for (int word = 0; word < words; word++) {
        size_t size = *(*program)++;
        if (found < 0 && size == length && memcmp(p, *program, size) == 0) found = word;
        *program += size;
    }
    *value = found;
    return found < 0 ? NULL : q;
}

/* Whether the line [p, end) is exactly the printf `program`; its fields go to `row`. */
static int matches(const uint8_t *program, const uint8_t *p, const uint8_t *end, int64_t *row) {
    for (;;) {
        uint8_t op = *program++;
        if (op == OP_END) return p == end;
        if (op == OP_LITERAL) {
            size_t size = *program++;
            if ((size_t)(end - p) < size || memcmp(p, program, size) != 0) return 0;
            p += size;
            program += size;
            continue;
        }
        int64_t *field = row + *program++;
        if (op == OP_INT) {
            p = read_int(p, end, field);
        } else if (op == OP_DECIMAL) {
            double number = 0;
            p = read_decimal(p, end, &number);
            memcpy(field, &number, sizeof number); /* read back as float64 */
        } else if (op == OP_CHOICE) {
            p = read_choice(p, end, &program, field);
        } else {
            return 0;
        }
        if (p == NULL) return 0;
    }
}

/* Sort out the lines of data[0:size] (whole lines): for line i, starts[i], ends[i] (its
 * newline) and status[i], the index of the first of the `count` printfs (programs at
 * `offsets`) it is exactly, or why it is none. A line with a carriage return other than a
 * CRLF ending is none: a terminal shows only the text after it. The fields of the k-th line
 * that is a printf go to fields[k * width ...], for at most max_rows lines. heads[i] holds
 * the first 8 bytes of line i (byte 0 lowest, zeros past its end), enough for Python to
 * tell which lines no handler can use. The lines that are
 * none are also copied to `others` (as large as data), each with its newline. Returns the
 * number of lines, or -1 when data has more than max_lines (the per-line arrays' size); *rows
 * is set to the number of printf lines, *others_size to the bytes written to `others`. */
int64_t scan_lines(const uint8_t *data, int64_t size, const uint8_t *programs, const int64_t *offsets, int32_t count,
                   int32_t width, int64_t max_rows, int64_t max_lines, int64_t *starts, int64_t *ends, int32_t *status,
                   uint64_t *heads, int64_t *fields, int64_t *rows, uint8_t *others, int64_t *others_size) {
    const uint8_t *p = data, *stop = data + size;
    uint8_t *other = others;
    int64_t line = 0, row = 0;
    const uint8_t *newline;
    while (p < stop && (newline = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
        if (line == max_lines) return -1;
        const uint8_t *end = newline > p && newline[-1] == '\r' ? newline - 1 : newline;
        int32_t kind = LINE_WITH_RETURN;
        if (memchr(p, '\r', (size_t)(end - p)) == NULL) {
            kind = memchr(p, ',', (size_t)(end - p)) != NULL ? LINE_WITH_COMMA : LINE_WITHOUT_COMMA;
            for (int32_t printf = 0; kind == LINE_WITH_COMMA && printf < count && row < max_rows; printf++) {
                if (matches(programs + offsets[printf], p, end, fields + row * width)) {
                    kind = printf;
                    row++;
                }
            }
        }
        if (kind < 0) {
            memcpy(other, p, (size_t)(newline + 1 - p));
            other += newline + 1 - p;
        }
        uint64_t head = 0;
        for (int byte = 0; byte < 8 && p + byte < end; byte++) head |= (uint64_t)p[byte] << 8 * byte;
        heads[line] = head;
        starts[line] = p - data;
        ends[line] = newline - data;
        status[line++] = kind;
        p = newline + 1;
    }
    *rows = row;
    *others_size = other - others;
    return line;
}

/* The end of the title escape starting at p (ESC ']'), or NULL when it has none: its first
 * BEL before the line ends, or else its last ESC '\'. */
static const uint8_t *title_end(const uint8_t *p, const uint8_t *stop) {
    const uint8_t *q = p + 2, *last = NULL;
    for (; q < stop && *q != '\n'; q++) {
        if (*q == '\a') return q + 1;
        if (*q == 0x1b && q + 1 < stop && q[1] == '\\') last = q + 2;
    }
    return last;
}

/* The end of the control sequence starting at p (ESC '['), or NULL when it is none. */
static const uint8_t *control_end(const uint8_t *p, const uint8_t *stop) {
    const uint8_t *q = p + 2;
    while (q < stop && (is_digit(*q) || *q == ';' || *q == '?')) q++;
    return q < stop && ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')) ? q + 1 : NULL;
}

/* data[0:size] without its terminal escapes, written to out (as large); returns its size. */
int64_t strip_escapes(const uint8_t *data, int64_t size, uint8_t *out) {
    const uint8_t *p = data, *stop = data + size;
    uint8_t *o = out;
    const uint8_t *escape;
    while ((escape = memchr(p, 0x1b, (size_t)(stop - p))) != NULL) {
        memcpy(o, p, (size_t)(escape - p));
        o += escape - p;
        const uint8_t *after = NULL;
        if (escape + 1 < stop && escape[1] == ']') after = title_end(escape, stop);
        if (escape + 1 < stop && escape[1] == '[') after = control_end(escape, stop);
        if (after == NULL) {
            *o++ = *escape;
            after = escape + 1;
        }
        p = after;
    }
    memcpy(o, p, (size_t)(stop - p));
    o += stop - p;
    return o - out;
}

/* Where the lines of data[0:size] that hold `needle` start, in order, one per line: the first
 * `most` go to starts. Returns how many lines there are (more than `most` when they did not
 * all fit: call again with room for them). */
int64_t lines_with(const uint8_t *data, int64_t size, const uint8_t *needle, int64_t length, int64_t *starts,
                   int64_t most) {
    const uint8_t *p = data, *stop = data + size, *hit;
    int64_t hits = 0;
    while (p < stop && (hit = memmem(p, (size_t)(stop - p), needle, (size_t)length)) != NULL) {
        const uint8_t *newline = memrchr(data, '\n', (size_t)(hit - data));
        if (hits < most) starts[hits] = newline == NULL ? 0 : newline + 1 - data;
        hits++;
        newline = memchr(hit, '\n', (size_t)(stop - hit));
        p = newline == NULL ? stop : newline + 1;
    }
    return hits;
}
