// libv4l2 (Debian: libv4l-dev) and the kernel's V4L2 definitions, shaped for Swift: variadic
// functions and function-like macros are not imported, so they are wrapped or re-exported here.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/videodev2.h>
#include <libv4l2.h>

static inline int facecam_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }

// ioctl retried on EINTR; returns 0 or -1 with errno set.
static inline int facecam_v4l2_ioctl(int fd, unsigned long request, void *arg) {
  int r;
  do { r = v4l2_ioctl(fd, request, arg); } while (r == -1 && errno == EINTR);
  return r;
}

static const unsigned long FACECAM_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
static const unsigned long FACECAM_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT;
static const unsigned long FACECAM_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long FACECAM_VIDIOC_ENUM_FRAMEINTERVALS = VIDIOC_ENUM_FRAMEINTERVALS;
static const unsigned long FACECAM_VIDIOC_G_FMT = VIDIOC_G_FMT;
static const unsigned long FACECAM_VIDIOC_S_FMT = VIDIOC_S_FMT;
static const unsigned long FACECAM_VIDIOC_G_PARM = VIDIOC_G_PARM;
static const unsigned long FACECAM_VIDIOC_S_PARM = VIDIOC_S_PARM;
static const unsigned long FACECAM_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
static const unsigned long FACECAM_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
static const unsigned long FACECAM_VIDIOC_QBUF = VIDIOC_QBUF;
static const unsigned long FACECAM_VIDIOC_DQBUF = VIDIOC_DQBUF;
static const unsigned long FACECAM_VIDIOC_STREAMON = VIDIOC_STREAMON;
static const unsigned long FACECAM_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
static const unsigned long FACECAM_VIDIOC_QUERYCTRL = VIDIOC_QUERYCTRL;
static const unsigned long FACECAM_VIDIOC_S_CTRL = VIDIOC_S_CTRL;
static const unsigned long FACECAM_VIDIOC_G_CTRL = VIDIOC_G_CTRL;

static const uint32_t FACECAM_PIX_FMT_YUYV = V4L2_PIX_FMT_YUYV;
static const uint32_t FACECAM_PIX_FMT_MJPEG = V4L2_PIX_FMT_MJPEG;
static const uint32_t FACECAM_PIX_FMT_JPEG = V4L2_PIX_FMT_JPEG;
static const uint32_t FACECAM_PIX_FMT_GREY = V4L2_PIX_FMT_GREY;
static const uint32_t FACECAM_PIX_FMT_NV12 = V4L2_PIX_FMT_NV12;
static const uint32_t FACECAM_PIX_FMT_RGB24 = V4L2_PIX_FMT_RGB24;

static const uint32_t FACECAM_BUF_TYPE_VIDEO_CAPTURE = V4L2_BUF_TYPE_VIDEO_CAPTURE;
static const uint32_t FACECAM_MEMORY_MMAP = V4L2_MEMORY_MMAP;
static const uint32_t FACECAM_FIELD_ANY = V4L2_FIELD_ANY;
static const uint32_t FACECAM_CAP_VIDEO_CAPTURE = V4L2_CAP_VIDEO_CAPTURE;
static const uint32_t FACECAM_CAP_STREAMING = V4L2_CAP_STREAMING;
static const uint32_t FACECAM_CAP_DEVICE_CAPS = V4L2_CAP_DEVICE_CAPS;
static const uint32_t FACECAM_FRMSIZE_TYPE_DISCRETE = V4L2_FRMSIZE_TYPE_DISCRETE;
static const uint32_t FACECAM_FRMIVAL_TYPE_DISCRETE = V4L2_FRMIVAL_TYPE_DISCRETE;
static const uint32_t FACECAM_CTRL_CLASS_USER = V4L2_CTRL_CLASS_USER;
static const uint32_t FACECAM_CID_BASE = V4L2_CID_BASE;
static const uint32_t FACECAM_CTRL_FLAG_NEXT_CTRL = V4L2_CTRL_FLAG_NEXT_CTRL;

// Added for V4L2Source / V4L2Devices.
static const uint32_t FACECAM_CAP_VIDEO_CAPTURE_MPLANE = V4L2_CAP_VIDEO_CAPTURE_MPLANE;
static const uint32_t FACECAM_CAP_TIMEPERFRAME = V4L2_CAP_TIMEPERFRAME;
static const uint32_t FACECAM_FMT_FLAG_COMPRESSED = V4L2_FMT_FLAG_COMPRESSED;
static const uint32_t FACECAM_FMT_FLAG_EMULATED = V4L2_FMT_FLAG_EMULATED;
static const uint32_t FACECAM_FRMSIZE_TYPE_CONTINUOUS = V4L2_FRMSIZE_TYPE_CONTINUOUS;
static const uint32_t FACECAM_FRMSIZE_TYPE_STEPWISE = V4L2_FRMSIZE_TYPE_STEPWISE;
static const uint32_t FACECAM_FRMIVAL_TYPE_CONTINUOUS = V4L2_FRMIVAL_TYPE_CONTINUOUS;
static const uint32_t FACECAM_FRMIVAL_TYPE_STEPWISE = V4L2_FRMIVAL_TYPE_STEPWISE;
static const uint32_t FACECAM_BUF_FLAG_ERROR = V4L2_BUF_FLAG_ERROR;
static const uint32_t FACECAM_BUF_FLAG_TIMESTAMP_MASK = V4L2_BUF_FLAG_TIMESTAMP_MASK;
static const uint32_t FACECAM_BUF_FLAG_TIMESTAMP_MONOTONIC = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;

static inline void *facecam_mmap(size_t length, int fd, int64_t offset) {
  return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
}
static inline int facecam_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }
static inline int facecam_v4l2_close(int fd) { return v4l2_close(fd); }
