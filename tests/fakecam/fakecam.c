/*
 * A Video4Linux camera for tests, on a machine that has none: loaded with LD_PRELOAD into the
 * client, it answers for the /dev/videoN nodes a test directory names, as a UVC camera's
 * driver would (the calls the `v4l` crate, which nokhwa captures through, makes: open, the
 * format, size and interval enumerations, G/S_FMT, G/S_PARM, memory-mapped buffers, STREAMON,
 * poll and DQBUF; GStreamer's v4l2src also stats the node and duplicates its descriptor), and
 * leaves every other file and call to the C library.
 *
 * The directory is $ASSENT_TEST_CAMERAS. A camera is there while its file is: `video7` holds
 * "NAME\nRRGGBB\n" (what the camera is called, the colour of its picture). Removing the file
 * unplugs it: the node leaves /dev, and a capture in progress gets ENODEV, as from the kernel.
 * Pictures are YUYV at 640x480 or 320x240, 30 or 15 frames a second, each filled with the
 * camera's colour; a timer per open device marks when the next frame is ready, so poll() on
 * its descriptor waits for it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPEN 16
#define MAX_BUFFERS 8
#define MAX_FDS 4

struct camera {
    /* The descriptors open on the device: a timer standing for it, and its duplicates (the
     * timer's too). None: the slot is free. */
    int fds[MAX_FDS];
    int nfds;
    int index;
    unsigned width, height, fps;
    unsigned nbuffers;
    int queued[MAX_BUFFERS];
    void *mapped[MAX_BUFFERS];
    int streaming;
    uint32_t sequence;
};

static struct camera cameras[MAX_OPEN];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialised;

static void init(void) {
    if (!initialised) {
        for (int i = 0; i < MAX_OPEN; i++) cameras[i].nfds = 0;
        initialised = 1;
    }
}

static const char *dir(void) { return getenv("ASSENT_TEST_CAMERAS"); }

/* The description file of camera `index`, in `out`. */
static int description_path(int index, char *out, size_t n) {
    const char *d = dir();
    if (!d) return -1;
    snprintf(out, n, "%s/video%d", d, index);
    return 0;
}

static int present(int index) {
    char path[4096];
    struct stat st;
    if (description_path(index, path, sizeof path) < 0) return 0;
    return stat(path, &st) == 0;
}

/* Its name and colour, from its file. */
static int describe(int index, char *name, size_t n, unsigned *rgb) {
    char path[4096];
    if (description_path(index, path, sizeof path) < 0) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char colour[64] = "808080";
    if (!fgets(name, (int)n, f)) name[0] = 0;
    name[strcspn(name, "\n")] = 0;
    if (!fgets(colour, sizeof colour, f)) strcpy(colour, "808080");
    fclose(f);
    *rgb = (unsigned)strtoul(colour, NULL, 16);
    return 0;
}

/* "/dev/videoN" (or "/sys/class/video4linux/videoN/name" with `sys`): N, or -1. */
static int node_index(const char *path, int sys) {
    const char *prefix = sys ? "/sys/class/video4linux/video" : "/dev/video";
    size_t len = strlen(prefix);
    if (!path || strncmp(path, prefix, len) != 0) return -1;
    char *end;
    long n = strtol(path + len, &end, 10);
    if (end == path + len || n < 0 || n > 63) return -1;
    if (sys ? strcmp(end, "/name") != 0 : *end != 0) return -1;
    return (int)n;
}

/* The camera open as `fd`, or a free slot for -1. */
static struct camera *find(int fd) {
    for (int i = 0; i < MAX_OPEN; i++) {
        if (fd < 0 && cameras[i].nfds == 0) return &cameras[i];
        for (int j = 0; fd >= 0 && j < cameras[i].nfds; j++)
            if (cameras[i].fds[j] == fd) return &cameras[i];
    }
    return NULL;
}

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_close)(int);
static long (*real_syscall)(long, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static DIR *(*real_opendir)(const char *);
static struct dirent64 *(*real_readdir64)(DIR *);
static struct dirent *(*real_readdir)(DIR *);
static int (*real_closedir)(DIR *);

#define REAL(name) \
    do { \
        if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name); \
    } while (0)

/* A camera's node opened: a timer stands for it. */
static int open_camera(int index) {
    if (!present(index)) {
        errno = ENOENT;
        return -1;
    }
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return -1;
    pthread_mutex_lock(&lock);
    init();
    struct camera *c = find(-1);
    if (!c) {
        pthread_mutex_unlock(&lock);
        REAL(close);
        real_close(fd);
        errno = EMFILE;
        return -1;
    }
    memset(c, 0, sizeof *c);
    c->fds[0] = fd;
    c->nfds = 1;
    c->index = index;
    c->width = 640;
    c->height = 480;
    c->fps = 30;
    pthread_mutex_unlock(&lock);
    return fd;
}

/* The name file sysfs has for a camera, as a memory file. */
static int open_name(int index) {
    char name[256], line[300];
    unsigned rgb;
    if (describe(index, name, sizeof name, &rgb) < 0) {
        errno = ENOENT;
        return -1;
    }
    int fd = memfd_create("video4linux-name", MFD_CLOEXEC);
    if (fd < 0) return -1;
    int n = snprintf(line, sizeof line, "%s\n", name);
    if (write(fd, line, (size_t)n) != n || lseek(fd, 0, SEEK_SET) != 0) {
        REAL(close);
        real_close(fd);
        errno = EIO;
        return -1;
    }
    return fd;
}

static int fake_open(const char *path, int *handled) {
    int index = node_index(path, 0);
    if (index >= 0 && dir()) {
        *handled = 1;
        return open_camera(index);
    }
    index = node_index(path, 1);
    if (index >= 0 && dir() && present(index)) {
        *handled = 1;
        return open_name(index);
    }
    *handled = 0;
    return -1;
}

int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_arg(ap, mode_t);
    va_end(ap);
    int handled, fd = fake_open(path, &handled);
    if (handled) return fd;
    REAL(open);
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_arg(ap, mode_t);
    va_end(ap);
    int handled, fd = fake_open(path, &handled);
    if (handled) return fd;
    REAL(open64);
    return real_open64(path, flags, mode);
}

/* GStreamer's v4l2src duplicates the device's descriptor for its buffer pool. */
int dup(int fd) {
    static int (*real_dup)(int);
    REAL(dup);
    pthread_mutex_lock(&lock);
    init();
    struct camera *c = fd >= 0 ? find(fd) : NULL;
    int copy = real_dup(fd);
    int e = errno;
    if (c && copy >= 0) {
        if (c->nfds < MAX_FDS) {
            c->fds[c->nfds++] = copy;
        } else {
            REAL(close);
            real_close(copy);
            copy = -1;
            e = EMFILE;
        }
    }
    pthread_mutex_unlock(&lock);
    errno = e;
    return copy;
}

/* A camera's node is a character device (GStreamer's v4l2src checks before it opens one). */
static int fake_stat(const char *path, struct stat *st, int *handled) {
    int index = node_index(path, 0);
    *handled = index >= 0 && dir();
    if (!*handled) return -1;
    if (!present(index)) {
        errno = ENOENT;
        return -1;
    }
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFCHR | 0660;
    st->st_rdev = makedev(81, (unsigned)index);
    st->st_blksize = 4096;
    return 0;
}

int stat(const char *path, struct stat *st) {
    static int (*real_stat)(const char *, struct stat *);
    int handled, r = fake_stat(path, st, &handled);
    if (handled) return r;
    REAL(stat);
    return real_stat(path, st);
}

int stat64(const char *path, struct stat64 *st) {
    static int (*real_stat64)(const char *, struct stat64 *);
    int handled, r = fake_stat(path, (struct stat *)st, &handled);
    if (handled) return r;
    REAL(stat64);
    return real_stat64(path, st);
}

int close(int fd) {
    pthread_mutex_lock(&lock);
    init();
    struct camera *c = fd >= 0 ? find(fd) : NULL;
    for (int j = 0; c && j < c->nfds; j++) {
        if (c->fds[j] == fd) {
            c->fds[j] = c->fds[--c->nfds];
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    REAL(close);
    return real_close(fd);
}

/* Listing /dev: the present cameras' nodes come after the real entries. */
static DIR *dev_dir;
static int dev_next;
static struct dirent64 dev_entry64;
static struct dirent dev_entry;

DIR *opendir(const char *name) {
    REAL(opendir);
    DIR *d = real_opendir(name);
    if (d && dir() && strcmp(name, "/dev") == 0) {
        pthread_mutex_lock(&lock);
        dev_dir = d;
        dev_next = 0;
        pthread_mutex_unlock(&lock);
    }
    return d;
}

int closedir(DIR *d) {
    pthread_mutex_lock(&lock);
    if (d == dev_dir) dev_dir = NULL;
    pthread_mutex_unlock(&lock);
    REAL(closedir);
    return real_closedir(d);
}

/* The next present camera of the listing of `d`, or -1. */
static int next_listed(DIR *d) {
    int found = -1, saved = errno;
    pthread_mutex_lock(&lock);
    if (d == dev_dir) {
        while (dev_next < 64 && found < 0) {
            if (present(dev_next)) found = dev_next;
            dev_next++;
        }
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return found;
}

struct dirent64 *readdir64(DIR *d) {
    REAL(readdir64);
    struct dirent64 *e = real_readdir64(d);
    if (e) return e;
    int index = next_listed(d);
    if (index < 0) return NULL;
    memset(&dev_entry64, 0, sizeof dev_entry64);
    dev_entry64.d_type = DT_CHR;
    snprintf(dev_entry64.d_name, sizeof dev_entry64.d_name, "video%d", index);
    return &dev_entry64;
}

struct dirent *readdir(DIR *d) {
    REAL(readdir);
    struct dirent *e = real_readdir(d);
    if (e) return e;
    int index = next_listed(d);
    if (index < 0) return NULL;
    memset(&dev_entry, 0, sizeof dev_entry);
    dev_entry.d_type = DT_CHR;
    snprintf(dev_entry.d_name, sizeof dev_entry.d_name, "video%d", index);
    return &dev_entry;
}

static const unsigned sizes[][2] = {{640, 480}, {320, 240}};
static const unsigned rates[] = {30, 15};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t frame_bytes(const struct camera *c) { return (size_t)c->width * c->height * 2; }

static size_t page_aligned(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static void fill_format(const struct camera *c, struct v4l2_format *f) {
    memset(&f->fmt.pix, 0, sizeof f->fmt.pix);
    f->fmt.pix.width = c->width;
    f->fmt.pix.height = c->height;
    f->fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
    f->fmt.pix.field = V4L2_FIELD_NONE;
    f->fmt.pix.bytesperline = c->width * 2;
    f->fmt.pix.sizeimage = (uint32_t)frame_bytes(c);
    f->fmt.pix.colorspace = V4L2_COLORSPACE_SRGB;
}

static void arm(struct camera *c) {
    struct itimerspec t = {0};
    if (c->streaming) {
        t.it_interval.tv_nsec = 1000000000L / c->fps;
        t.it_value = t.it_interval;
    }
    timerfd_settime(c->fds[0], 0, &t, NULL);
}

/* Fill buffer `i` with the camera's colour, as YUYV (BT.601, limited range). */
static void paint(struct camera *c, unsigned i) {
    char name[256];
    unsigned rgb = 0x808080;
    describe(c->index, name, sizeof name, &rgb);
    double r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
    uint8_t y = (uint8_t)(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    uint8_t u = (uint8_t)(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
    uint8_t v = (uint8_t)(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
    uint8_t *p = c->mapped[i];
    size_t n = frame_bytes(c);
    for (size_t k = 0; k + 3 < n; k += 4) {
        p[k] = y;
        p[k + 1] = u;
        p[k + 2] = y;
        p[k + 3] = v;
    }
}

static int fail(int e) {
    errno = e;
    return -1;
}

static int fake_ioctl(struct camera *c, unsigned long request, void *arg) {
    if (!present(c->index)) return fail(ENODEV);
    switch (request) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *cap = arg;
        char name[256];
        unsigned rgb;
        memset(cap, 0, sizeof *cap);
        describe(c->index, name, sizeof name, &rgb);
        snprintf((char *)cap->driver, sizeof cap->driver, "assent-test");
        memcpy(cap->card, name, strnlen(name, sizeof cap->card - 1));
        snprintf((char *)cap->bus_info, sizeof cap->bus_info, "test:%d", c->index);
        cap->version = 0x060000;
        cap->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *d = arg;
        if (d->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || d->index != 0) return fail(EINVAL);
        uint32_t index = d->index, type = d->type;
        memset(d, 0, sizeof *d);
        d->index = index;
        d->type = type;
        d->pixelformat = V4L2_PIX_FMT_YUYV;
        snprintf((char *)d->description, sizeof d->description, "YUYV 4:2:2");
        return 0;
    }
    case VIDIOC_ENUM_FRAMESIZES: {
        struct v4l2_frmsizeenum *s = arg;
        if (s->pixel_format != V4L2_PIX_FMT_YUYV || s->index >= COUNT(sizes)) return fail(EINVAL);
        s->type = V4L2_FRMSIZE_TYPE_DISCRETE;
        s->discrete.width = sizes[s->index][0];
        s->discrete.height = sizes[s->index][1];
        return 0;
    }
    case VIDIOC_ENUM_FRAMEINTERVALS: {
        struct v4l2_frmivalenum *s = arg;
        int known = 0;
        for (unsigned k = 0; k < COUNT(sizes); k++)
            known |= s->width == sizes[k][0] && s->height == sizes[k][1];
        if (s->pixel_format != V4L2_PIX_FMT_YUYV || !known || s->index >= COUNT(rates))
            return fail(EINVAL);
        s->type = V4L2_FRMIVAL_TYPE_DISCRETE;
        s->discrete.numerator = 1;
        s->discrete.denominator = rates[s->index];
        return 0;
    }
    case VIDIOC_G_FMT:
    case VIDIOC_S_FMT:
    case VIDIOC_TRY_FMT: {
        struct v4l2_format *f = arg;
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (request != VIDIOC_G_FMT) {
            if (c->streaming && request == VIDIOC_S_FMT) return fail(EBUSY);
            unsigned k = 0;
            while (k + 1 < COUNT(sizes) && f->fmt.pix.width < sizes[k][0]) k++;
            struct camera tried = *c;
            tried.width = sizes[k][0];
            tried.height = sizes[k][1];
            if (request == VIDIOC_S_FMT) *c = tried;
            fill_format(&tried, f);
            return 0;
        }
        fill_format(c, f);
        return 0;
    }
    case VIDIOC_G_PARM:
    case VIDIOC_S_PARM: {
        struct v4l2_streamparm *p = arg;
        if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return fail(EINVAL);
        if (request == VIDIOC_S_PARM) {
            struct v4l2_fract t = p->parm.capture.timeperframe;
            unsigned want = t.numerator ? t.denominator / t.numerator : 30;
            c->fps = want >= 30 ? 30 : 15;
            if (c->streaming) arm(c);
        }
        memset(&p->parm.capture, 0, sizeof p->parm.capture);
        p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
        p->parm.capture.timeperframe.numerator = 1;
        p->parm.capture.timeperframe.denominator = c->fps;
        p->parm.capture.readbuffers = MAX_BUFFERS;
        return 0;
    }
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *r = arg;
        if (r->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || r->memory != V4L2_MEMORY_MMAP)
            return fail(EINVAL);
        if (c->streaming) return fail(EBUSY);
        c->nbuffers = r->count > MAX_BUFFERS ? MAX_BUFFERS : r->count;
        memset(c->queued, 0, sizeof c->queued);
        memset(c->mapped, 0, sizeof c->mapped);
        r->count = c->nbuffers;
        r->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
        return 0;
    }
    case VIDIOC_QUERYBUF:
    case VIDIOC_QBUF: {
        struct v4l2_buffer *b = arg;
        if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->index >= c->nbuffers) return fail(EINVAL);
        if (request == VIDIOC_QBUF) {
            c->queued[b->index] = 1;
            b->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_QUEUED;
            return 0;
        }
        uint32_t index = b->index;
        memset(b, 0, sizeof *b);
        b->index = index;
        b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b->memory = V4L2_MEMORY_MMAP;
        b->length = (uint32_t)frame_bytes(c);
        b->m.offset = (uint32_t)(index * page_aligned(frame_bytes(c)));
        b->flags = V4L2_BUF_FLAG_MAPPED | (c->queued[index] ? V4L2_BUF_FLAG_QUEUED : 0);
        return 0;
    }
    case VIDIOC_DQBUF: {
        struct v4l2_buffer *b = arg;
        if (!c->streaming) return fail(EINVAL);
        uint64_t expired;
        if (read(c->fds[0], &expired, sizeof expired) != sizeof expired) return fail(EAGAIN);
        for (unsigned i = 0; i < c->nbuffers; i++) {
            if (!c->queued[i] || !c->mapped[i]) continue;
            c->queued[i] = 0;
            paint(c, i);
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            memset(b, 0, sizeof *b);
            b->index = i;
            b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
            b->memory = V4L2_MEMORY_MMAP;
            b->bytesused = (uint32_t)frame_bytes(c);
            b->length = b->bytesused;
            b->field = V4L2_FIELD_NONE;
            b->sequence = c->sequence++;
            b->timestamp.tv_sec = now.tv_sec;
            b->timestamp.tv_usec = now.tv_nsec / 1000;
            b->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_DONE |
                       V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
            return 0;
        }
        return fail(EAGAIN);
    }
    case VIDIOC_STREAMON:
    case VIDIOC_STREAMOFF:
        c->streaming = request == VIDIOC_STREAMON;
        if (!c->streaming) memset(c->queued, 0, sizeof c->queued);
        arm(c);
        return 0;
    default:
        return fail(ENOTTY);
    }
}

/* An ioctl on a camera's descriptor, or -2 when the descriptor is not a camera's. */
static int camera_ioctl(int fd, unsigned long request, void *arg) {
    pthread_mutex_lock(&lock);
    init();
    struct camera *c = fd >= 0 ? find(fd) : NULL;
    int r = c ? fake_ioctl(c, request, arg) : -2;
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int r = camera_ioctl(fd, request, arg);
    if (r != -2) return r;
    REAL(ioctl);
    return real_ioctl(fd, request, arg);
}

/* The `v4l` crate calls ioctl through syscall(). */
long syscall(long number, ...) {
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_ioctl) {
        int r = camera_ioctl((int)a[0], (unsigned long)a[1], (void *)a[2]);
        if (r != -2) return r;
    }
    REAL(syscall);
    return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    REAL(mmap);
    pthread_mutex_lock(&lock);
    init();
    struct camera *c = fd >= 0 ? find(fd) : NULL;
    if (!c) {
        pthread_mutex_unlock(&lock);
        return real_mmap(addr, length, prot, flags, fd, offset);
    }
    size_t stride = page_aligned(frame_bytes(c));
    unsigned i = (unsigned)((size_t)offset / stride);
    void *p = MAP_FAILED;
    if (i < c->nbuffers && (size_t)offset % stride == 0) {
        p = real_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) c->mapped[i] = p;
    } else {
        errno = EINVAL;
    }
    pthread_mutex_unlock(&lock);
    return p;
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
    __attribute__((alias("mmap")));
