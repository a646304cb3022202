// Lets a posted callback find out whether the object it captured `this` of
// still exists. Single-threaded (one EventLoop): the counts are plain ints.
//
//   class Foo {
//     void Start() {
//       dialer->Dial(..., [this, alive = alive_.Weak()](DialResult r) {
//         if (!alive) return;  // Foo was destroyed meanwhile.
//         ...
//       });
//     }
//     WeakFlag alive_;  // Declare last so it dies first.
//   };
#ifndef P2P_CORE_WEAK_FLAG_H_
#define P2P_CORE_WEAK_FLAG_H_

#include <utility>

namespace p2p {

class WeakFlag {
 private:
  struct Block {
    bool alive = true;
    int refs = 1;
  };

 public:
  // A copyable observer of a WeakFlag; true while the flag's owner lives.
  class Ref {
   public:
    Ref() = default;
    Ref(const Ref& o) : b_(o.b_) {
      if (b_) ++b_->refs;
    }
    Ref(Ref&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    Ref& operator=(Ref o) {
      std::swap(b_, o.b_);
      return *this;
    }
    ~Ref() { Release(b_); }
    explicit operator bool() const { return b_ != nullptr && b_->alive; }

   private:
    friend class WeakFlag;
    explicit Ref(Block* b) : b_(b) { ++b_->refs; }
    Block* b_ = nullptr;
  };

  WeakFlag() : b_(new Block) {}
  ~WeakFlag() {
    b_->alive = false;
    Release(b_);
  }
  WeakFlag(const WeakFlag&) = delete;
  WeakFlag& operator=(const WeakFlag&) = delete;

  Ref Weak() const { return Ref(b_); }

 private:
  static void Release(Block* b) {
    if (b != nullptr && --b->refs == 0) delete b;
  }
  Block* b_;
};

}  // namespace p2p

#endif  // P2P_CORE_WEAK_FLAG_H_
