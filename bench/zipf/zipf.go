// Package zipf is a seeded zipfian generator: the algorithm of Gray et al.,
// "Quickly Generating Billion-Record Synthetic Databases" (SIGMOD 1994), as
// YCSB's ZipfianGenerator implements it. Item 0 is the most popular; item i is
// drawn with probability (1/(i+1)^theta) / zeta(n, theta).
//
// The benchmark draws keys from it (YCSB's default theta is 0.99) and the
// simulator uses Prob for exact expected loads. Generators are deterministic
// given their *rand.Rand and are not safe for concurrent use.
package zipf

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// YCSBTheta is YCSB's default zipfian constant.
const YCSBTheta = 0.99

// Zipf draws integers in [0, n) with zipfian popularity.
type Zipf struct {
	n         int
	theta     float64
	zetan     float64
	alpha     float64
	eta       float64
	halfPowTh float64
	rng       *rand.Rand
}

// New returns a generator over n items with constant theta in [0, 1) (0 is
// uniform), drawing its randomness from rng. It costs O(n) to compute zeta.
func New(n int, theta float64, rng *rand.Rand) (*Zipf, error) {
	if n < 1 {
		return nil, fmt.Errorf("zipf: n=%d must be >= 1", n)
	}
	if !(theta >= 0 && theta < 1) {
		return nil, fmt.Errorf("zipf: theta=%v must be in [0, 1)", theta)
	}
	if rng == nil {
		return nil, fmt.Errorf("zipf: nil rand")
	}
	z := &Zipf{n: n, theta: theta, rng: rng}
	z.zetan = Zeta(n, theta)
	z.alpha = 1 / (1 - theta)
	z.halfPowTh = 1 + math.Pow(0.5, theta)
	if n > 1 {
		z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - Zeta(2, theta)/z.zetan)
	}
	return z, nil
}

// Zeta returns sum_{i=1..n} 1/i^theta.
func Zeta(n int, theta float64) float64 {
	s := 0.0
	for i := 1; i <= n; i++ {
		s += 1 / math.Pow(float64(i), theta)
	}
	return s
}

// N returns the number of items.
func (z *Zipf) N() int { return z.n }

// Theta returns the zipfian constant.
func (z *Zipf) Theta() float64 { return z.theta }

// Next draws the next item.
func (z *Zipf) Next() int {
	if z.n == 1 {
		return 0
	}
	u := z.rng.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.halfPowTh {
		return 1
	}
	i := int(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	if i >= z.n {
		i = z.n - 1
	}
	return i
}

// Prob returns the exact probability of item i.
func (z *Zipf) Prob(i int) float64 {
	return 1 / (math.Pow(float64(i+1), z.theta) * z.zetan)
}
