package zipf

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestValidation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n     int
		theta float64
	}{{0, 0.5}, {10, 1}, {10, -0.1}, {10, math.NaN()}} {
		if _, err := New(tc.n, tc.theta, rng); err == nil {
			t.Errorf("New(%d, %v) accepted", tc.n, tc.theta)
		}
	}
	if _, err := New(10, 0.5, nil); err == nil {
		t.Error("nil rand accepted")
	}
}

// TestMatchesProbabilities draws many items and compares the frequencies of
// the head of the distribution with Prob (a chi-square-free tolerance check:
// 5 standard deviations of a binomial count).
func TestMatchesProbabilities(t *testing.T) {
	for _, theta := range []float64{0, 0.5, 0.8, YCSBTheta} {
		z, err := New(1000, theta, rand.New(rand.NewPCG(7, 11)))
		if err != nil {
			t.Fatal(err)
		}
		const draws = 200_000
		counts := make([]int, z.N())
		for range draws {
			i := z.Next()
			if i < 0 || i >= z.N() {
				t.Fatalf("theta %v: item %d out of range", theta, i)
			}
			counts[i]++
		}
		sum := 0.0
		for i := range z.N() {
			sum += z.Prob(i)
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("theta %v: probabilities sum to %v", theta, sum)
		}
		// The generator is exact for items 0 and 1 and approximate beyond
		// (Gray et al.); check the two exact ones tightly and the next few loosely.
		for i := 0; i < 2; i++ {
			p := z.Prob(i)
			want := p * draws
			sd := math.Sqrt(draws * p * (1 - p))
			if math.Abs(float64(counts[i])-want) > 5*sd+1 {
				t.Errorf("theta %v item %d: %d draws, want %.0f +- %.0f", theta, i, counts[i], want, 5*sd)
			}
		}
		for i := 2; i < 10; i++ {
			want := z.Prob(i) * draws
			if got := float64(counts[i]); got < 0.7*want-20 || got > 1.3*want+20 {
				t.Errorf("theta %v item %d: %v draws, want about %.0f", theta, i, got, want)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := New(100, 0.9, rand.New(rand.NewPCG(3, 4)))
	b, _ := New(100, 0.9, rand.New(rand.NewPCG(3, 4)))
	for range 1000 {
		if a.Next() != b.Next() {
			t.Fatal("same seed, different sequence")
		}
	}
	one, _ := New(1, 0.5, rand.New(rand.NewPCG(1, 1)))
	if one.Next() != 0 || one.Prob(0) != 1 {
		t.Fatal("single item")
	}
}
